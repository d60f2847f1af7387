// Gemm (opsets 1, 6, 7, 9, 11, 13; one factory): Y = alpha * op(A) * op(B) + beta * C with C broadcast
// (unidirectionally) to [M, N] and optional from opset 11. The opset-1/6 `broadcast` attribute is accepted and
// C is always broadcast where its shape allows. float32 runs on the packed f32 GEMM (a constant B is packed once
// at kernel creation); bfloat16 without transA on the bf16 GEMM (kernels/bf16-gemm: float32 accumulation and
// epilogue, a constant B packed once, the result rounded to bfloat16); float16 and transposed bfloat16 A through
// float32; double and the integer types on plain loops. Under MatMulPrecision::kBFloat16 a float32 constant B is
// packed for the bf16 GEMM too.
#include "kernels/f32-gemm/gemm.h"

#include <algorithm>
#include <climits>
#include <memory>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "ops/conv/fused_activation.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct GemmAttributes {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
};

// A constant B packed for the f32 GEMM, or for the bf16 GEMM (bfloat16 B, A not transposed). The kernel consumes
// B (the runtime passes it no more and may free it), so the packed copy also keeps B's dtype and shape.
struct PackedWeight {
  PackedGemmF32 packed;
  PackedBf16GemmB bf16;  // set instead of `packed` for the bf16 GEMM
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  // The constant's data while the caller keeps it, to recognise it when B is passed anyway (a kernel run
  // directly, as tests do); never compared once the runtime stopped passing B.
  const void* source = nullptr;
};

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
};

// B as compute sees it: the input, or, when the kernel consumed the constant B, the packed copy's dtype and shape.
struct OperandB {
  const Tensor* tensor;  // nullptr when consumed
  DType dtype;
  const std::vector<int64_t>& shape;
  std::string description() const { return dtype_name(dtype) + shape_to_string(shape); }
};

GemmShape gemm_shape(const Tensor& a, const OperandB& b, const GemmAttributes& attrs) {
  if (a.rank() != 2 || b.shape.size() != 2) {
    fail(ErrorCode::kInvalidArgument, "Gemm needs 2-D A and B, got A ", a.description(), " and B ", b.description());
  }
  GemmShape s;
  s.m = attrs.trans_a ? a.dim(1) : a.dim(0);
  s.k = attrs.trans_a ? a.dim(0) : a.dim(1);
  s.n = attrs.trans_b ? b.shape[0] : b.shape[1];
  const int64_t b_k = attrs.trans_b ? b.shape[1] : b.shape[0];
  if (s.k != b_k) {
    fail(ErrorCode::kInvalidArgument, "Gemm inner dimensions differ: A ", a.description(),
         (attrs.trans_a ? " (transposed)" : ""), " and B ", b.description(), (attrs.trans_b ? " (transposed)" : ""));
  }
  return s;
}

// Element (i, j) of C broadcast to [m, n] is c[i * row_stride + j * col_stride].
struct CBroadcast {
  int64_t row_stride = 0;
  int64_t col_stride = 0;
};

CBroadcast c_broadcast(const Tensor& c, const GemmShape& s) {
  check_argument(c.rank() <= 2, "Gemm C must have rank <= 2, got ", tensor_text(c));
  const int64_t rows = c.rank() == 2 ? c.dim(0) : 1;
  const int64_t cols = c.rank() >= 1 ? c.dim(c.rank() - 1) : 1;
  check_argument((rows == s.m || rows == 1) && (cols == s.n || cols == 1), "Gemm C ", tensor_text(c),
                 " does not broadcast to [", s.m, ",", s.n, "]");
  return CBroadcast{rows == 1 ? 0 : cols, cols == 1 ? 0 : 1};
}

template <typename T>
void fill_broadcast(const T* c, const CBroadcast& bc, int64_t m, int64_t n, T* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) y[i * n + j] = c[i * bc.row_stride + j * bc.col_stride];
  }
}

// The integer and double path: y = alpha * op(A) op(B) + beta * C, products accumulated in T (integers wrap).
template <typename T>
void gemm_plain(const GemmAttributes& attrs, const GemmShape& s, const T* a, const T* b, const T* c,
                const CBroadcast& bc, T* y) {
  using W = linalg::WrapType<T>;
  std::vector<W> row(static_cast<size_t>(s.n));
  for (int64_t i = 0; i < s.m; ++i) {
    std::fill(row.begin(), row.end(), W{});
    for (int64_t p = 0; p < s.k; ++p) {
      const W av = static_cast<W>(attrs.trans_a ? a[p * s.m + i] : a[i * s.k + p]);
      for (int64_t j = 0; j < s.n; ++j) {
        const W bv = static_cast<W>(attrs.trans_b ? b[j * s.k + p] : b[p * s.n + j]);
        row[static_cast<size_t>(j)] = static_cast<W>(row[static_cast<size_t>(j)] + av * bv);
      }
    }
    for (int64_t j = 0; j < s.n; ++j) {
      const T product = static_cast<T>(row[static_cast<size_t>(j)]);
      const bool has_c = c != nullptr && attrs.beta != 0.0f;
      const T cv = has_c ? c[i * bc.row_stride + j * bc.col_stride] : T{};
      if constexpr (std::is_integral_v<T>) {
        if (attrs.alpha == 1.0f && (!has_c || attrs.beta == 1.0f)) {
          y[i * s.n + j] = static_cast<T>(static_cast<W>(product) + static_cast<W>(cv));
          continue;
        }
      }
      y[i * s.n + j] = static_cast<T>(static_cast<double>(attrs.alpha) * static_cast<double>(product) +
                                      (has_c ? static_cast<double>(attrs.beta) * static_cast<double>(cv) : 0.0));
    }
  }
}

// com.microsoft FusedGemm's activation (attributes activation, activation_alpha, activation_beta), as the
// FusedConv activation the convolution kernels share; kNone for Gemm.
conv::FusedActivation parse_gemm_activation(const Node& node) {
  conv::FusedActivation a;
  if (node.domain != kMicrosoftDomain) return a;
  using Kind = conv::FusedActivation::Kind;
  const std::string name = node.attr_string("activation", "");
  if (name.empty()) return a;
  if (name == "Relu") {
    a.kind = Kind::kRelu;
    a.clamp_min = 0.0f;
  } else if (name == "LeakyRelu") {
    a.kind = Kind::kLeakyRelu;
    a.alpha = node.attr_float("activation_alpha", 0.01f);
  } else if (name == "Sigmoid") {
    a.kind = Kind::kSigmoid;
  } else if (name == "Tanh") {
    a.kind = Kind::kTanh;
  } else if (name == "HardSigmoid") {
    a.kind = Kind::kHardSigmoid;
    a.alpha = node.attr_float("activation_alpha", 0.2f);
    a.beta = node.attr_float("activation_beta", 0.5f);
  } else {
    fail(ErrorCode::kUnsupported, node.label(), ": activation '", name,
         "' is not supported (Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid)");
  }
  return a;
}

// The bf16 GEMM route of gemm_float (no transA): A bfloat16 (or float32, rounded as it is packed, for a float32 B
// packed to bfloat16), B the packed constant (packed_b) or packed here; alpha, a bias row and the clamp in the
// epilogue, any other C added after it (then clamped), the other activations after that; rounded into y when y is
// bfloat16.
void gemm_bf16(KernelContext& ctx, const GemmAttributes& attrs, const PackedBf16GemmB* packed_b, const OperandB& b_in,
               const GemmShape& s, const conv::FusedActivation& activation, Tensor& y) {
  const Tensor& a = ctx.input(0);
  const bool a_f32 = a.dtype() == DType::kFloat;
  Tensor y32 = a_f32 ? y : Tensor::uninitialized(DType::kFloat, y.shape());
  PackedBf16GemmB per_call;
  if (packed_b == nullptr) {
    per_call = pack_bf16_gemm_b_any(b_in.dtype == DType::kFloat, attrs.trans_b, s.k, s.n, b_in.tensor->raw_data(),
                                    b_in.shape[1]);
    packed_b = &per_call;
  }
  Bf16GemmEpilogue epilogue;
  epilogue.alpha = attrs.alpha;
  std::vector<float> column_bias;
  Tensor c;
  CBroadcast bc;
  bool bias_row = false;
  if (ctx.has_input(2) && attrs.beta != 0.0f) {
    c = linalg::to_float32(ctx.input(2));
    bc = c_broadcast(c, s);
    bias_row = bc.row_stride == 0 && bc.col_stride == 1;
  }
  const bool add_c = c.defined() && !bias_row;
  if (bias_row) {
    column_bias.assign(c.data<float>(), c.data<float>() + s.n);
    for (float& v : column_bias) v *= attrs.beta;
    epilogue.column_bias = column_bias.data();
  }
  if (!add_c) {
    epilogue.min = activation.clamp_min;
    epilogue.max = activation.clamp_max;
  }
  Bf16GemmA op;
  if (a_f32) {
    op.f32 = a.data<float>();
  } else {
    op.bf16 = static_cast<const uint16_t*>(a.raw_data());
  }
  op.ld = a.dim(1);
  float* out = y32.data<float>();
  bf16_gemm(s.m, s.n, s.k, op, *packed_b, out, s.n, epilogue, &ctx.parallelism());
  if (add_c) {
    const float* cv = c.data<float>();
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) {
        const float v = out[i * s.n + j] + attrs.beta * cv[i * bc.row_stride + j * bc.col_stride];
        // NaN passes the clamp, as in the epilogue.
        out[i * s.n + j] =
            v < activation.clamp_min ? activation.clamp_min : (v > activation.clamp_max ? activation.clamp_max : v);
      }
    }
  }
  conv::apply_fused_activation(activation, out, y32.element_count(), ctx.parallelism());
  if (!a_f32) linalg::round_into(y32, y);
}

void gemm_float(KernelContext& ctx, const GemmAttributes& attrs, const PackedWeight* weight, const OperandB& b_in,
                const GemmShape& s, const conv::FusedActivation& activation, Tensor& y) {
  const Tensor& a_in = ctx.input(0);
  const bool use_packed =
      weight != nullptr && (b_in.tensor == nullptr ||
                            (weight->source == b_in.tensor->raw_data() && weight->shape == b_in.tensor->shape()));
  if (!attrs.trans_a && (a_in.dtype() == DType::kBFloat16 || (use_packed && !weight->bf16.empty()))) {
    gemm_bf16(ctx, attrs, use_packed ? &weight->bf16 : nullptr, b_in, s, activation, y);
    return;
  }
  const Tensor a = linalg::to_float32(a_in);
  const Tensor b = use_packed ? Tensor() : linalg::to_float32(*b_in.tensor);
  Tensor y32 = y.dtype() == DType::kFloat ? y : Tensor(DType::kFloat, y.shape());
  float beta = 0.0f;
  GemmEpilogueF32 epilogue;
  epilogue.min = activation.clamp_min;
  epilogue.max = activation.clamp_max;
  std::vector<float> column_bias;
  if (ctx.has_input(2) && attrs.beta != 0.0f) {
    const Tensor c = linalg::to_float32(ctx.input(2));
    const CBroadcast bc = c_broadcast(c, s);
    if (bc.row_stride == 0 && bc.col_stride == 1) {
      // A bias row (the Linear layer's): added by the GEMM's epilogue while each tile is in registers.
      column_bias.assign(c.data<float>(), c.data<float>() + s.n);
      if (attrs.beta != 1.0f) for (float& v : column_bias) v *= attrs.beta;
      epilogue.column_bias = column_bias.data();
    } else {
      fill_broadcast(c.data<float>(), bc, s.m, s.n, y32.data<float>());
      beta = attrs.beta;
    }
  }
  const GemmOperandF32 a_op{nullptr, a.data<float>(), a.dim(1), attrs.trans_a};
  const GemmOperandF32 b_op{use_packed ? &weight->packed : nullptr, use_packed ? nullptr : b.data<float>(),
                            b_in.shape[1], attrs.trans_b};
  gemm_f32_packed(s.m, s.n, s.k, attrs.alpha, a_op, b_op, beta, y32.data<float>(), s.n, &ctx.parallelism(), &epilogue);
  conv::apply_fused_activation(activation, y32.data<float>(), y32.element_count(), ctx.parallelism());
  if (y.dtype() != DType::kFloat) ctx.set_output(0, linalg::from_float32(y32, y.dtype()));
}

std::shared_ptr<const PackedWeight> pack_constant_b(const KernelInfo& info, const GemmAttributes& attrs) {
  const Tensor* b = info.constant_input(1);
  if (b == nullptr || b->rank() != 2 || !(b->dtype() == DType::kFloat || linalg::is_staged_float(b->dtype()))) {
    return nullptr;
  }
  const int64_t k = attrs.trans_b ? b->dim(1) : b->dim(0);
  const int64_t n = attrs.trans_b ? b->dim(0) : b->dim(1);
  auto weight = std::make_shared<PackedWeight>();
  const bool bf16_of_f32 = b->dtype() == DType::kFloat && info.matmul_precision == MatMulPrecision::kBFloat16;
  if ((b->dtype() == DType::kBFloat16 || bf16_of_f32) && !attrs.trans_a) {
    weight->bf16 = pack_bf16_gemm_b_any(bf16_of_f32, attrs.trans_b, k, n, b->raw_data(), b->dim(1));
  } else {
    const Tensor values = linalg::to_float32(*b);
    weight->packed = pack_gemm_b_f32(attrs.trans_b, k, n, values.data<float>(), b->dim(1));
  }
  weight->dtype = b->dtype();
  weight->shape = b->shape();
  weight->source = b->raw_data();
  info.consume_constant_input(1);
  return weight;
}

bool gemm_dtype_allowed(DType dtype) {
  switch (dtype) {
    case DType::kFloat: case DType::kDouble: case DType::kFloat16: case DType::kBFloat16:
    case DType::kInt32: case DType::kInt64: case DType::kUint32: case DType::kUint64:
      return true;
    default:
      return false;
  }
}

std::unique_ptr<Kernel> make_gemm(const KernelInfo& info) {
  GemmAttributes attrs;
  attrs.alpha = info.node.attr_float("alpha", 1.0f);
  attrs.beta = info.node.attr_float("beta", 1.0f);
  attrs.trans_a = info.node.attr_int("transA", 0) != 0;
  attrs.trans_b = info.node.attr_int("transB", 0) != 0;
  const conv::FusedActivation activation = parse_gemm_activation(info.node);
  std::shared_ptr<const PackedWeight> weight = pack_constant_b(info, attrs);
  return make_kernel([attrs, weight, activation](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    // B is absent when this kernel consumed the constant B: the packed copy stands for it.
    const Tensor* b_tensor = weight != nullptr && !ctx.has_input(1) ? nullptr : &ctx.input(1);
    const OperandB b{b_tensor, b_tensor != nullptr ? b_tensor->dtype() : weight->dtype,
                     b_tensor != nullptr ? b_tensor->shape() : weight->shape};
    if (a.dtype() != b.dtype) {
      fail(ErrorCode::kInvalidArgument, "Gemm inputs must have one dtype, got A ", a.description(), " and B ",
           b.description());
    }
    if (!gemm_dtype_allowed(a.dtype())) fail(ErrorCode::kInvalidArgument, "Gemm does not support ", a.description());
    const GemmShape s = gemm_shape(a, b, attrs);
    if (ctx.has_input(2)) {
      check_argument(ctx.input(2).dtype() == a.dtype(), "Gemm C ", tensor_text(ctx.input(2)),
                     " must have the dtype of A ", tensor_text(a));
      c_broadcast(ctx.input(2), s);
    }
    const bool float_path = a.dtype() == DType::kFloat || linalg::is_staged_float(a.dtype());
    // The float GEMMs write every element of Y when the product has depth; zeroing it first cost scikit-learn's
    // MLP on 1000 rows 4% of its time (two outputs of 1 and 0.5 MB per run).
    Tensor& y = float_path && s.k > 0 ? ctx.allocate_output_uninitialized(0, a.dtype(), {s.m, s.n})
                                      : ctx.allocate_output(0, a.dtype(), {s.m, s.n});
    if (y.element_count() == 0) return;
    if (float_path) {
      gemm_float(ctx, attrs, weight.get(), b, s, activation, y);
      return;
    }
    check_argument(activation.kind == conv::FusedActivation::Kind::kNone, ctx.node().label(),
                   ": FusedGemm supports float types only, got ", tensor_text(a));
    visit_dtype(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, double> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t> ||
                    std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
        const T* c = ctx.has_input(2) ? ctx.input(2).data<T>() : nullptr;
        const CBroadcast bc = ctx.has_input(2) ? c_broadcast(ctx.input(2), s) : CBroadcast{};
        gemm_plain<T>(attrs, s, a.data<T>(), b.tensor->data<T>(), c, bc, y.data<T>());
      }
    });
  });
}

void infer_gemm(InferenceContext& context) {
  const TypeInfo* a = context.input_type(0);
  const TypeInfo* b = context.input_type(1);
  if (a == nullptr || !a->is_tensor()) return;
  if (!a->shape || a->shape->size() != 2 || b == nullptr || !b->is_tensor() || !b->shape || b->shape->size() != 2) {
    context.set_output_type(0, TypeInfo::tensor(a->elem_type));
    return;
  }
  const bool trans_a = context.node().attr_int("transA", 0) != 0;
  const bool trans_b = context.node().attr_int("transB", 0) != 0;
  const Dim& m = (*a->shape)[trans_a ? 1 : 0];
  const Dim& n = (*b->shape)[trans_b ? 0 : 1];
  const Dim& a_k = (*a->shape)[trans_a ? 0 : 1];
  const Dim& b_k = (*b->shape)[trans_b ? 1 : 0];
  if (a_k.is_known() && b_k.is_known() && a_k.value != b_k.value) {
    fail(ErrorCode::kInvalidModel, "Gemm inner dimensions differ: A ", a->to_string(), " and B ", b->to_string());
  }
  context.set_output_type(0, TypeInfo::tensor(a->elem_type, std::vector<Dim>{m, n}));
}

const RegisterOp kGemm{{.op_type = "Gemm", .since_version = 1, .last_version = INT_MAX,
                        .factory = make_gemm, .infer = infer_gemm}};
// ONNX Runtime's contrib op: Gemm followed by `activation` (what its optimizer writes, and gemm_activation_fusion).
const RegisterOp kFusedGemm{{.domain = kMicrosoftDomain, .op_type = "FusedGemm", .since_version = 1,
                             .last_version = INT_MAX, .factory = make_gemm, .infer = infer_gemm}};

}  // namespace
}  // namespace tessera
