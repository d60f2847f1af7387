// MatMul (opsets 1, 9, 13; one semantics): NumPy matmul with broadcast batch dimensions and 1-D operands. Also
// com.microsoft FusedMatMul: alpha * op(A) * op(B) with transA/transB on the last two dims (what ONNX Runtime's
// optimizer writes for a MatMul followed by a scale, or fed by a transpose); float types. And com.tessera
// MatMulBias (what matmul_bias_fusion writes): Y = activation(MatMul(A, B) + bias), bias 1-D [N] added in the GEMM
// epilogue, `activation` "" (none), "Gelu" (erf form) or "FastGelu" (tanh form) run on each block of Y while it
// is in cache; float32 only. Its bits equal MatMul, then Add or com.microsoft BiasGelu / FastGelu.
// float32 runs on the packed f32 GEMM (a constant B is packed once at kernel creation); bfloat16 (without transA)
// on the bf16 GEMM (kernels/bf16-gemm: float32 accumulation, a constant B packed once, the result rounded to
// bfloat16); float16 and transposed bfloat16 A through float32; double and the integer types (wrapping on
// overflow) on plain loops. Under MatMulPrecision::kBFloat16 a float32 constant B is packed for the bf16 GEMM too.
#include <algorithm>
#include <climits>
#include <memory>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "kernels/bf16-gemm/bf16_gemm.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/common/op_utils.h"
#include "ops/linalg/linalg_common.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using linalg::MatMulDims;

// A constant B packed for the f32 GEMM, or for the bf16 GEMM (bfloat16 B, A not transposed), with the tensor it
// was packed from. The kernel consumes B (the runtime passes it no more and may free it), so the packed copy also
// keeps B's dtype and shape.
struct PackedWeight {
  PackedGemmF32 packed;
  PackedBf16GemmB bf16;  // set instead of `packed` for the bf16 GEMM
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  // The constant's data while the caller keeps it, to recognise it when B is passed anyway (a kernel run
  // directly, as tests do); never compared once the runtime stopped passing B.
  const void* source = nullptr;
};

// Batches of GEMMs at most this many flops each run one per thread instead of one split over threads.
constexpr double kSmallGemmFlops = 2.0 * 96 * 96 * 96;

// FusedMatMul's attributes (MatMul: alpha 1, no transposes).
struct MatMulOptions {
  float alpha = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
  // Batch transposes: dim 0 moves behind the batch dims, [d0, d1, ..., dr-2, dr-1] -> [d1, ..., dr-2, d0, dr-1]
  // (ONNX Runtime folds the Transpose(1, 0, 2) of PyTorch's [seq, batch * heads, head] attention into them), before
  // transA/transB.
  bool trans_batch_a = false;
  bool trans_batch_b = false;
  bool is_plain() const { return alpha == 1.0f && !trans_a && !trans_b && !trans_batch_a && !trans_batch_b; }
  // com.tessera MatMulBias: input 2 is the bias, `activation` runs on each finished block of Y.
  bool has_bias = false;
  GemmRowsActivationF32 activation = nullptr;
};

// GELU in place over `rows` rows of `cols` values (a GEMM epilogue's rows_activation).
template <VUnaryOpF32 kGelu>
void gelu_rows(float* c, int64_t rows, int64_t cols, int64_t ldc) {
  for (int64_t i = 0; i < rows; ++i) vunary_f32(kGelu, c + i * ldc, c + i * ldc, cols);
}

MatMulOptions parse_options(const Node& node) {
  MatMulOptions o;
  if (node.domain == kTesseraDomain) {
    o.has_bias = true;
    const std::string activation = node.attr_string("activation", "");
    if (activation == "Gelu") {
      o.activation = gelu_rows<VUnaryOpF32::kGeluErf>;
    } else if (activation == "FastGelu") {
      o.activation = gelu_rows<VUnaryOpF32::kGeluTanh>;
    } else if (!activation.empty()) {
      fail(ErrorCode::kUnsupported, node.label(), ": activation '", activation, "' is not supported (Gelu, FastGelu)");
    }
    return o;
  }
  if (node.domain != kMicrosoftDomain) return o;
  o.alpha = node.attr_float("alpha", 1.0f);
  o.trans_a = node.attr_int("transA", 0) != 0;
  o.trans_b = node.attr_int("transB", 0) != 0;
  o.trans_batch_a = node.attr_int("transBatchA", 0) != 0;
  o.trans_batch_b = node.attr_int("transBatchB", 0) != 0;
  return o;
}

// `x` with dim 0 moved behind the batch dims (a copy; `x` itself below rank 3, where that moves nothing).
Tensor batch_transposed(const Tensor& x, Parallelism& parallelism) {
  if (x.rank() < 3) return x;
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  std::vector<size_t> perm;
  for (size_t i = 1; i + 1 < x.rank(); ++i) perm.push_back(i);
  perm.push_back(0);
  perm.push_back(x.rank() - 1);
  std::vector<int64_t> shape, source_strides;
  for (size_t p : perm) {
    shape.push_back(x.dim(p));
    source_strides.push_back(strides[p]);
  }
  Tensor out(x.dtype(), shape);
  tensor_ops::copy_strided_to_contiguous(x.dtype(), out.raw_data(), x.raw_data(), source_strides, shape, parallelism);
  return out;
}

// `shape` with its last two dims swapped when `transpose` (the logical operand of a transposed input).
std::vector<int64_t> logical_shape(std::vector<int64_t> shape, bool transpose, const char* name) {
  if (!transpose) return shape;
  check_argument(shape.size() >= 2, "FusedMatMul: trans", name, " needs ", name, " of rank 2 or more, got ",
                 shape_text(shape));
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  return shape;
}

void matmul_f32(const MatMulDims& d, const MatMulOptions& o, const float* a, const float* b, float* c,
                const PackedGemmF32* packed_b, const GemmEpilogueF32* epilogue, Parallelism& parallelism) {
  const int64_t batches = d.batch_count();
  const int64_t lda = o.trans_a ? d.m : d.k, ldb = o.trans_b ? d.k : d.n;
  if (d.b_is_shared && !o.trans_a) {
    // Every batch multiplies by the same B: one GEMM over all batches' rows (A's batches are contiguous).
    GemmOperandF32 a_op{nullptr, a, d.k, false};
    GemmOperandF32 b_op{packed_b, b, ldb, o.trans_b};
    gemm_f32_packed(batches * d.m, d.n, d.k, o.alpha, a_op, b_op, 0.0f, c, d.n, &parallelism, epilogue);
    return;
  }
  const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
  auto run = [&](int64_t begin, int64_t end, Parallelism* inner) {
    for (int64_t i = 0; i < end - begin; ++i) {
      const size_t index = static_cast<size_t>(begin + i);
      const GemmOperandF32 a_op{nullptr, a + d.a_offsets[index], lda, o.trans_a};
      const GemmOperandF32 b_op = packed_b != nullptr ? GemmOperandF32{packed_b}
                                                      : GemmOperandF32{nullptr, b + d.b_offsets[index], ldb, o.trans_b};
      gemm_f32_packed(d.m, d.n, d.k, o.alpha, a_op, b_op, 0.0f, c + (begin + i) * d.m * d.n, d.n, inner, epilogue);
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

// MatMulBias's epilogue: its bias input (1-D float32 [N], for float32 A) as the GEMM's column bias, and its
// activation. An empty epilogue for MatMul and FusedMatMul.
GemmEpilogueF32 bias_epilogue(KernelContext& ctx, const MatMulOptions& o, const Tensor& a, const MatMulDims& d) {
  GemmEpilogueF32 epilogue;
  if (!o.has_bias) return epilogue;
  check_argument(a.dtype() == DType::kFloat, ctx.node().label(), ": MatMulBias takes float32 inputs, got A ",
                 tensor_text(a));
  check_argument(ctx.has_input(2), ctx.node().label(), ": MatMulBias needs its bias input");
  const Tensor& bias = ctx.input(2);
  check_argument(bias.dtype() == DType::kFloat && bias.rank() == 1 && bias.dim(0) == d.n, ctx.node().label(),
                 ": MatMulBias bias ", tensor_text(bias), " must be 1-D float32 of the product's last dim ", d.n);
  epilogue.column_bias = bias.data<float>();
  epilogue.rows_activation = o.activation;
  return epilogue;
}

// The bf16 GEMM route (no transA): A bfloat16 (or float32, rounded as it is packed, for a float32 B packed to
// bfloat16), B the packed constant or each batch's matrix packed here; float32 sums and epilogue, rounded into y
// when y is bfloat16. MatMulBias's bias and activation run in the epilogue as on the f32 GEMM.
void matmul_bf16(KernelContext& ctx, const MatMulDims& d, const MatMulOptions& o, const Tensor& a, const Tensor* b,
                 const PackedBf16GemmB* packed_b, Tensor& y) {
  const bool a_f32 = a.dtype() == DType::kFloat;
  Tensor y32 = a_f32 ? y : Tensor::uninitialized(DType::kFloat, y.shape());
  Bf16GemmEpilogue epilogue;
  epilogue.alpha = o.alpha;
  if (o.has_bias) {
    const GemmEpilogueF32 bias = bias_epilogue(ctx, o, a, d);
    epilogue.column_bias = bias.column_bias;
    epilogue.rows_activation = bias.rows_activation;
  }
  const auto gemm = [&](int64_t rows, int64_t a_offset, const PackedBf16GemmB& pb, int64_t c_offset, Parallelism* par) {
    Bf16GemmA op;
    if (a_f32) {
      op.f32 = a.data<float>() + a_offset;
    } else {
      op.bf16 = static_cast<const uint16_t*>(a.raw_data()) + a_offset;
    }
    op.ld = d.k;
    bf16_gemm(rows, d.n, d.k, op, pb, y32.data<float>() + c_offset, d.n, epilogue, par);
  };
  const auto pack_b = [&](int64_t offset) {
    const bool b_f32 = b->dtype() == DType::kFloat;
    const char* data = static_cast<const char*>(b->raw_data()) + offset * (b_f32 ? 4 : 2);
    return pack_bf16_gemm_b_any(b_f32, o.trans_b, d.k, d.n, data, o.trans_b ? d.k : d.n);
  };
  Parallelism& parallelism = ctx.parallelism();
  const int64_t batches = d.batch_count();
  if (d.b_is_shared) {
    // Every batch multiplies by the same B: one GEMM over all batches' rows (A's batches are contiguous).
    const PackedBf16GemmB shared = packed_b != nullptr ? *packed_b : pack_b(d.b_offsets[0]);
    gemm(batches * d.m, 0, shared, 0, &parallelism);
  } else {
    const auto run = [&](int64_t begin, int64_t end, Parallelism* inner) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t index = static_cast<size_t>(i);
        gemm(d.m, d.a_offsets[index], pack_b(d.b_offsets[index]), i * d.m * d.n, inner);
      }
    };
    if (batches >= parallelism.thread_count()) {
      parallelism.parallel_for(batches, [&](int64_t begin, int64_t end) { run(begin, end, nullptr); });
    } else {
      run(0, batches, &parallelism);
    }
  }
  if (!a_f32) linalg::round_into(y32, y);
}

// Packs a constant float/float16/bfloat16 B whose batch dims are all 1 (the weights of a Linear layer).
std::shared_ptr<const PackedWeight> pack_constant_b(const KernelInfo& info, const MatMulOptions& o) {
  const Tensor* b = o.trans_batch_b ? nullptr : info.constant_input(1);
  if (b == nullptr || b->rank() < 2 || !(b->dtype() == DType::kFloat || linalg::is_staged_float(b->dtype()))) {
    return nullptr;
  }
  for (size_t axis = 0; axis + 2 < b->rank(); ++axis) {
    if (b->dim(axis) != 1) return nullptr;
  }
  auto weight = std::make_shared<PackedWeight>();
  const int64_t rows = b->dim(b->rank() - 2), cols = b->dim(b->rank() - 1);
  const int64_t k = o.trans_b ? cols : rows;
  const int64_t n = o.trans_b ? rows : cols;
  const bool bf16_of_f32 = b->dtype() == DType::kFloat && info.matmul_precision == MatMulPrecision::kBFloat16;
  if ((b->dtype() == DType::kBFloat16 || bf16_of_f32) && !o.trans_a) {
    weight->bf16 = pack_bf16_gemm_b_any(bf16_of_f32, o.trans_b, k, n, b->raw_data(), cols);
  } else {
    const Tensor values = linalg::to_float32(*b);
    weight->packed = pack_gemm_b_f32(o.trans_b, k, n, values.data<float>(), cols);
  }
  weight->dtype = b->dtype();
  weight->shape = b->shape();
  weight->source = b->raw_data();
  info.consume_constant_input(1);
  return weight;
}

std::unique_ptr<Kernel> make_matmul(const KernelInfo& info) {
  const MatMulOptions options = parse_options(info.node);
  std::shared_ptr<const PackedWeight> weight = pack_constant_b(info, options);
  return make_kernel([weight, options](KernelContext& ctx) {
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
    const Tensor a_batch = options.trans_batch_a ? batch_transposed(a, ctx.parallelism()) : Tensor();
    const Tensor b_batch = options.trans_batch_b && b != nullptr ? batch_transposed(*b, ctx.parallelism()) : Tensor();
    const Tensor& a_in = options.trans_batch_a ? a_batch : a;
    const Tensor* b_in = options.trans_batch_b && b != nullptr ? &b_batch : b;
    const MatMulDims d = linalg::matmul_dims(logical_shape(a_in.shape(), options.trans_a, "A"),
                                             logical_shape(b_in ? b_in->shape() : b_shape, options.trans_b, "B"));
    Tensor& y = ctx.allocate_output_uninitialized(0, a.dtype(), d.output_shape);
    if (y.element_count() == 0) return;
    if (a.dtype() == DType::kFloat || linalg::is_staged_float(a.dtype())) {
      // A packed B has batch dims of 1, so d.b_is_shared holds whenever B is the packed constant.
      const bool use_packed = weight != nullptr && (b == nullptr || (d.b_is_shared && weight->source == b->raw_data() &&
                                                                    weight->shape == b->shape()));
      if (!options.trans_a && (a.dtype() == DType::kBFloat16 || (use_packed && !weight->bf16.empty()))) {
        matmul_bf16(ctx, d, options, a_in, b_in, use_packed ? &weight->bf16 : nullptr, y);
        return;
      }
      const Tensor a32 = linalg::to_float32(a_in);
      const Tensor b32 = use_packed ? Tensor() : linalg::to_float32(*b_in);
      Tensor y32 = a.dtype() == DType::kFloat ? y : Tensor(DType::kFloat, y.shape());
      const GemmEpilogueF32 epilogue = bias_epilogue(ctx, options, a, d);
      matmul_f32(d, options, a32.data<float>(), use_packed ? nullptr : b32.data<float>(), y32.data<float>(),
                 use_packed ? &weight->packed : nullptr, options.has_bias ? &epilogue : nullptr, ctx.parallelism());
      if (a.dtype() != DType::kFloat) ctx.set_output(0, linalg::from_float32(y32, a.dtype()));
      return;
    }
    check_argument(options.is_plain() && !options.has_bias, ctx.node().label(), ": ", ctx.node().op_type,
                   " supports float types only, got ", tensor_text(a));
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

// FusedMatMul: MatMul's inference on the logical (transposed) operands.
void infer_fused_matmul(InferenceContext& context) {
  const Node& node = context.node();
  std::vector<TypeInfo> logical(2);
  std::vector<const TypeInfo*> types(2, nullptr);
  for (size_t i = 0; i < 2; ++i) {
    const TypeInfo* t = context.input_type(i);
    if (t == nullptr) continue;
    logical[i] = *t;
    const bool batch_transpose = node.attr_int(i == 0 ? "transBatchA" : "transBatchB", 0) != 0;
    if (batch_transpose && logical[i].shape && logical[i].shape->size() >= 3) {
      auto& dims = *logical[i].shape;
      std::rotate(dims.begin(), dims.begin() + 1, dims.end() - 1);  // dim 0 behind the batch dims
    }
    const bool transpose = node.attr_int(i == 0 ? "transA" : "transB", 0) != 0;
    if (transpose && logical[i].shape && logical[i].shape->size() >= 2) {
      auto& dims = *logical[i].shape;
      std::swap(dims[dims.size() - 1], dims[dims.size() - 2]);
    }
    types[i] = &logical[i];
  }
  InferenceContext inner(node, types, {nullptr, nullptr});
  linalg::infer_matmul_output(inner, 0, 1, DType::kUndefined);
  context.set_output_type(0, inner.output_types()[0]);
}

const RegisterOp kMatMul{{.op_type = "MatMul", .since_version = 1, .last_version = INT_MAX,
                          .factory = make_matmul, .infer = infer_matmul}};
const RegisterOp kFusedMatMul{{.domain = kMicrosoftDomain, .op_type = "FusedMatMul", .since_version = 1,
                               .last_version = INT_MAX, .factory = make_matmul, .infer = infer_fused_matmul}};
const RegisterOp kMatMulBias{{.domain = kTesseraDomain, .op_type = "MatMulBias", .since_version = 1,
                              .last_version = INT_MAX, .factory = make_matmul, .infer = infer_matmul}};

}  // namespace
}  // namespace tessera
