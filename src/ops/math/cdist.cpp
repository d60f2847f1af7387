// com.microsoft CDist (ONNX Runtime's contrib op, opset 1): the distances between the rows of A [N, K] and of B
// [M, K] as Y [N, M], metric "sqeuclidean" (the default) or "euclidean" (the square root of it). float32 runs on
// the f32-sqdist kernels: the side with a constant value (the training rows of a k-nearest-neighbours model) is
// packed once at session creation and becomes the kernel's vectorized side, otherwise the side with more rows is
// packed per run; the threads take its panels. double is summed in double, pair by pair. scikit-learn exports
// pairwise distances as a Scan instead; the scan_cdist_fusion pass turns those into this op.
#include <climits>
#include <cmath>
#include <memory>
#include <string>

#include "base/lazy_text.h"
#include "kernels/f32-sqdist/f32-sqdist.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// Multiply-adds below which one thread runs the whole product (a thread split costs a few microseconds).
constexpr int64_t kMinParallelWork = 1 << 16;

struct CDistAttributes {
  bool euclidean = false;
};

CDistAttributes read_attributes(const Node& node) {
  const std::string metric = node.attr_string("metric", "sqeuclidean");
  check_model(metric == "sqeuclidean" || metric == "euclidean", node.label(), ": attribute 'metric' = '", metric,
              "' is not one of sqeuclidean, euclidean");
  return {metric == "euclidean"};
}

// A constant float32 input packed once: which input (0 = A, 1 = B) and its panels.
struct PackedSide {
  int input = -1;
  PackedSqdistB packed;
};

std::shared_ptr<const PackedSide> pack_constant_side(const KernelInfo& info) {
  // B first: with both constant, B is the side the kernel vectorizes in the usual orientation.
  for (int input : {1, 0}) {
    const Tensor* t = info.constant_input(static_cast<size_t>(input));
    if (t == nullptr || t->dtype() != DType::kFloat || t->rank() != 2) continue;
    auto side = std::make_shared<PackedSide>();
    side->input = input;
    side->packed = pack_sqdist_b_f32(t->dim(0), t->dim(1), t->data<float>(), t->dim(1));
    info.consume_constant_input(static_cast<size_t>(input));
    return side;
  }
  return nullptr;
}

void check_operands(const Node& node, const std::vector<int64_t>& a, DType a_type, const std::vector<int64_t>& b,
                    DType b_type) {
  check_argument(a_type == b_type && (a_type == DType::kFloat || a_type == DType::kDouble), node.label(),
                 ": inputs A and B must both be float or both double, got ", dtype_name(a_type), " and ",
                 dtype_name(b_type));
  check_argument(a.size() == 2 && b.size() == 2 && a[1] == b[1], node.label(), ": A ", shape_text(a), " and B ",
                 shape_text(b), " must be [N, K] and [M, K] with the same K");
}

void run_double(const Tensor& a, const Tensor& b, bool euclidean, Tensor& y, Parallelism& parallelism) {
  const int64_t n = a.dim(0), m = b.dim(0), k = a.dim(1);
  const double* ad = a.data<double>();
  const double* bd = b.data<double>();
  double* out = y.data<double>();
  const auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t j = 0; j < m; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double diff = ad[i * k + p] - bd[j * k + p];
          sum += diff * diff;
        }
        out[i * m + j] = euclidean ? std::sqrt(sum) : sum;
      }
    }
  };
  if (n * m * k < kMinParallelWork)
    rows(0, n);
  else
    parallelism.parallel_for(n, rows);
}

std::unique_ptr<Kernel> make_cdist(const KernelInfo& info) {
  const CDistAttributes attrs = read_attributes(info.node);
  std::shared_ptr<const PackedSide> constant = pack_constant_side(info);
  return make_kernel([attrs, constant](KernelContext& ctx) {
    // An input this kernel consumed is absent: its packed copy stands for it.
    const bool packed_a = constant != nullptr && constant->input == 0 && !ctx.has_input(0);
    const bool packed_b = constant != nullptr && constant->input == 1 && !ctx.has_input(1);
    const Tensor* a = packed_a ? nullptr : &ctx.input(0);
    const Tensor* b = packed_b ? nullptr : &ctx.input(1);
    const std::vector<int64_t> a_shape =
        a ? a->shape() : std::vector<int64_t>{constant->packed.rows, constant->packed.depth};
    const std::vector<int64_t> b_shape =
        b ? b->shape() : std::vector<int64_t>{constant->packed.rows, constant->packed.depth};
    check_operands(ctx.node(), a_shape, a ? a->dtype() : DType::kFloat, b_shape, b ? b->dtype() : DType::kFloat);
    const int64_t n = a_shape[0], m = b_shape[0], k = a_shape[1];
    Tensor& y = ctx.allocate_output_uninitialized(0, a ? a->dtype() : b->dtype(), {n, m});
    if (y.dtype() == DType::kDouble) {
      run_double(*a, *b, attrs.euclidean, y, ctx.parallelism());
      return;
    }
    // The packed (vectorized) side: the constant one, else the one with more rows. Y[i][j] = d(A_i, B_j) at
    // i * m + j; with A packed, the kernel's rows are B's and its columns A's, so its d_row is 1 and d_col m.
    const bool pack_a = packed_a || (!packed_b && n > m);
    PackedSqdistB per_run;
    const PackedSqdistB* panels = packed_a || packed_b ? &constant->packed : nullptr;
    if (panels == nullptr) {
      const Tensor& side = pack_a ? *a : *b;
      per_run = pack_sqdist_b_f32(side.dim(0), k, side.data<float>(), k);
      panels = &per_run;
    }
    const Tensor& rows = pack_a ? *b : *a;
    const int64_t row_count = rows.dim(0), columns = panels->rows;
    const int64_t d_row = pack_a ? 1 : m, d_col = pack_a ? m : 1;
    float* out = y.data<float>();
    const float* row_data = rows.data<float>();
    const int64_t panel_count = (columns + kSqdistPanel - 1) / kSqdistPanel;
    auto run_panels = [&](int64_t begin, int64_t end) {
      const int64_t j_begin = begin * kSqdistPanel, j_end = std::min(columns, end * kSqdistPanel);
      sqdist_f32(row_count, row_data, k, *panels, j_begin, j_end, out, d_row, d_col, attrs.euclidean);
    };
    if (row_count * columns * k < kMinParallelWork)
      run_panels(0, panel_count);
    else
      ctx.parallelism().parallel_for(panel_count, run_panels);
  });
}

void infer_cdist(InferenceContext& ctx) {
  const TypeInfo* a = ctx.input_type(0);
  const TypeInfo* b = ctx.input_type(1);
  if (a == nullptr || !a->is_tensor()) return;
  const Dim rows = a->shape && a->shape->size() == 2 ? (*a->shape)[0] : Dim{};
  const Dim columns = b != nullptr && b->shape && b->shape->size() == 2 ? (*b->shape)[0] : Dim{};
  ctx.set_output_type(0, TypeInfo::tensor(a->elem_type, std::vector<Dim>{rows, columns}));
}

const RegisterOp kCDist{{.domain = kMicrosoftDomain,
                         .op_type = "CDist",
                         .since_version = 1,
                         .last_version = INT_MAX,
                         .factory = make_cdist,
                         .infer = infer_cdist}};

}  // namespace
}  // namespace tessera
