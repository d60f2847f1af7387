// MatMul (opsets 1, 9, 13; one semantics): NumPy matmul with broadcast batch dimensions and 1-D operands.
// float32 runs on the packed f32 GEMM (a constant B is packed once at kernel creation); float16/bfloat16
// through float32; double and the integer types (wrapping on overflow) on plain loops.
#include <climits>
#include <memory>

#include "base/dtype_dispatch.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using linalg::MatMulDims;

// A constant B packed for the f32 GEMM, with the tensor it was packed from. The kernel consumes B (the runtime
// passes it no more and may free it), so the packed copy also keeps B's dtype and shape.
struct PackedWeight {
  PackedGemmF32 packed;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  // The constant's data while the caller keeps it, to recognise it when B is passed anyway (a kernel run
  // directly, as tests do); never compared once the runtime stopped passing B.
  const void* source = nullptr;
};

// Batches of GEMMs at most this many flops each run one per thread instead of one split over threads.
constexpr double kSmallGemmFlops = 2.0 * 96 * 96 * 96;

void matmul_f32(const MatMulDims& d, const float* a, const float* b, float* c, const PackedGemmF32* packed_b,
                Parallelism& parallelism) {
  const int64_t batches = d.batch_count();
  if (d.b_is_shared) {
    // Every batch multiplies by the same B: one GEMM over all batches' rows (A's batches are contiguous).
    GemmOperandF32 a_op{nullptr, a, d.k, false};
    GemmOperandF32 b_op{packed_b, b, d.n, false};
    gemm_f32_packed(batches * d.m, d.n, d.k, 1.0f, a_op, b_op, 0.0f, c, d.n, &parallelism);
    return;
  }
  const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
  auto run = [&](int64_t begin, int64_t end, Parallelism* inner) {
    for (int64_t i = 0; i < end - begin; ++i) {
      const size_t index = static_cast<size_t>(begin + i);
      gemm_f32(false, false, d.m, d.n, d.k, 1.0f, a + d.a_offsets[index], d.k, b + d.b_offsets[index], d.n, 0.0f,
               c + (begin + i) * d.m * d.n, d.n, inner);
    }
  };
  // Whole GEMMs per thread when the batches split evenly (attention's heads: 12 over 1, 2, 3, 4 or 6 threads) or
  // are many, or are small: one dispatch instead of one per batch.
  const int threads = parallelism.thread_count();
  const bool batches_split_evenly = batches % threads == 0 || batches >= 4 * threads;
  if (batches >= threads && (batches_split_evenly || flops <= kSmallGemmFlops)) {
    parallelism.parallel_for(batches, [&](int64_t begin, int64_t end) { run(begin, end, nullptr); });
  } else {
    run(0, batches, &parallelism);
  }
}

template <typename T>
void matmul_plain_batches(const MatMulDims& d, const T* a, const T* b, T* c, Parallelism& parallelism) {
  parallelism.parallel_for(d.batch_count(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const size_t index = static_cast<size_t>(i);
      linalg::matmul_plain<T>(d.m, d.n, d.k, a + d.a_offsets[index], b + d.b_offsets[index], c + i * d.m * d.n);
    }
  });
}

bool matmul_dtype_allowed(DType dtype) {
  switch (dtype) {
    case DType::kFloat: case DType::kDouble: case DType::kFloat16: case DType::kBFloat16:
    case DType::kInt32: case DType::kInt64: case DType::kUint32: case DType::kUint64:
      return true;
    default:
      return false;
  }
}

// Packs a constant float/float16/bfloat16 B whose batch dims are all 1 (the weights of a Linear layer).
std::shared_ptr<const PackedWeight> pack_constant_b(const KernelInfo& info) {
  const Tensor* b = info.constant_input(1);
  if (b == nullptr || b->rank() < 2 || !(b->dtype() == DType::kFloat || linalg::is_staged_float(b->dtype()))) {
    return nullptr;
  }
  for (size_t axis = 0; axis + 2 < b->rank(); ++axis) {
    if (b->dim(axis) != 1) return nullptr;
  }
  const Tensor values = linalg::to_float32(*b);
  auto weight = std::make_shared<PackedWeight>();
  const int64_t k = b->dim(b->rank() - 2);
  const int64_t n = b->dim(b->rank() - 1);
  weight->packed = pack_gemm_b_f32(false, k, n, values.data<float>(), n);
  weight->dtype = b->dtype();
  weight->shape = b->shape();
  weight->source = b->raw_data();
  info.consume_constant_input(1);
  return weight;
}

std::unique_ptr<Kernel> make_matmul(const KernelInfo& info) {
  std::shared_ptr<const PackedWeight> weight = pack_constant_b(info);
  return make_kernel([weight](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    // B is absent when this kernel consumed the constant B: the packed copy stands for it.
    const Tensor* b = weight != nullptr && !ctx.has_input(1) ? nullptr : &ctx.input(1);
    const DType b_dtype = b != nullptr ? b->dtype() : weight->dtype;
    const std::vector<int64_t>& b_shape = b != nullptr ? b->shape() : weight->shape;
    if (a.dtype() != b_dtype) {
      fail(ErrorCode::kInvalidArgument, "MatMul inputs must have one dtype, got A ", a.description(), " and B ",
           dtype_name(b_dtype), shape_to_string(b_shape));
    }
    if (!matmul_dtype_allowed(a.dtype())) fail(ErrorCode::kInvalidArgument, "MatMul does not support ", a.description());
    const MatMulDims d = linalg::matmul_dims(a.shape(), b_shape);
    Tensor& y = ctx.allocate_output_uninitialized(0, a.dtype(), d.output_shape);
    if (y.element_count() == 0) return;
    if (a.dtype() == DType::kFloat || linalg::is_staged_float(a.dtype())) {
      // A packed B has batch dims of 1, so d.b_is_shared holds whenever B is the packed constant.
      const bool use_packed = weight != nullptr && (b == nullptr || (d.b_is_shared && weight->source == b->raw_data() &&
                                                                    weight->shape == b->shape()));
      const Tensor a32 = linalg::to_float32(a);
      const Tensor b32 = use_packed ? Tensor() : linalg::to_float32(*b);
      Tensor y32 = a.dtype() == DType::kFloat ? y : Tensor(DType::kFloat, y.shape());
      matmul_f32(d, a32.data<float>(), use_packed ? nullptr : b32.data<float>(), y32.data<float>(),
                 use_packed ? &weight->packed : nullptr, ctx.parallelism());
      if (a.dtype() != DType::kFloat) ctx.set_output(0, linalg::from_float32(y32, a.dtype()));
      return;
    }
    visit_dtype(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, double> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
                    std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
        matmul_plain_batches<T>(d, a.data<T>(), b->data<T>(), y.data<T>(), ctx.parallelism());
      }
    });
  });
}

void infer_matmul(InferenceContext& context) { linalg::infer_matmul_output(context, 0, 1, DType::kUndefined); }

const RegisterOp kMatMul{{.op_type = "MatMul", .since_version = 1, .last_version = INT_MAX,
                          .factory = make_matmul, .infer = infer_matmul}};

}  // namespace
}  // namespace tessera
