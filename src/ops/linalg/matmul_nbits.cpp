// com.microsoft MatMulNBits (ONNX Runtime's contrib op for 2-, 4- and 8-bit weight-only quantized models, e.g. the
// LLMs onnxruntime-genai's builder writes): Y = A x dequantize(B)^T (+ bias), A [..., K] float, Y [..., N].
// B is uint8 [N, blocks, block_size * bits / 8]: along K, blocks of `block_size` values, each value `bits` wide,
// packed from the low bits of each byte up. dequantize(B)[n][k] = (q - zero_point) * scale of k's block (block
// k / block_size, or g_idx[k] when given); scales are [N * blocks] floats; zero_points are absent (2^(bits-1)),
// uint8 packed like B along the blocks ([N, ceil(blocks * bits / 8)]), or floats [N * blocks]. The product runs in
// float32 on the packed f32 GEMM; constant weights are dequantized and packed once at session creation (so they take
// float32 memory: 8x the 4-bit bytes). accuracy_level is accepted and ignored (always float32 accumulation). The
// act-order input g_idx is refused (kUnsupported): ONNX Runtime's results with it match neither reading of it
// tried here (each k taking block g_idx[k]'s scale and zero point, or the plain blocks).
#include <climits>
#include <cmath>
#include <memory>
#include <vector>

#include "base/lazy_text.h"
#include "kernels/f32-gemm/gemm.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct NBitsAttributes {
  int64_t k = 0, n = 0, bits = 4, block_size = 0;
  int64_t blocks() const { return (k + block_size - 1) / block_size; }
  int64_t blob_bytes() const { return block_size * bits / 8; }
};

NBitsAttributes parse_attributes(const Node& node) {
  NBitsAttributes a;
  a.k = node.attr_int("K", 0);
  a.n = node.attr_int("N", 0);
  a.bits = node.attr_int("bits", 4);
  a.block_size = node.attr_int("block_size", 0);
  check_model(a.k > 0 && a.n > 0, node.label(), ": MatMulNBits needs positive K and N, got K=", a.k, " N=", a.n);
  check_model(a.bits == 2 || a.bits == 4 || a.bits == 8, node.label(), ": MatMulNBits bits must be 2, 4 or 8, got ",
              a.bits);
  check_model(a.block_size >= 16 && (a.block_size & (a.block_size - 1)) == 0, node.label(),
              ": MatMulNBits block_size must be a power of two >= 16, got ", a.block_size);
  check_model(node.attr_int("weight_prepacked", 0) == 0, node.label(),
              ": MatMulNBits with weight_prepacked=1 (an execution provider's own layout) is not supported");
  return a;
}

// The `bits`-wide value at position i of a packed byte stream (low bits first).
inline int packed_value(const uint8_t* bytes, int64_t i, int64_t bits) {
  const int64_t per_byte = 8 / bits;
  return (bytes[i / per_byte] >> ((i % per_byte) * bits)) & ((1 << bits) - 1);
}

// W [N x K] in float from B, scales and zero points (nullptr when absent); checks their sizes.
std::vector<float> dequantize_weights(const NBitsAttributes& a, const Tensor& b, const Tensor& scales,
                                      const Tensor* zero_points) {
  const int64_t blocks = a.blocks();
  check_argument(b.dtype() == DType::kUint8 && b.element_count() == a.n * blocks * a.blob_bytes(), "MatMulNBits: B ",
                 tensor_text(b), " must be uint8 with N * ceil(K / block_size) * block_size * bits / 8 = ",
                 a.n * blocks * a.blob_bytes(), " bytes");
  check_argument(scales.dtype() == DType::kFloat && scales.element_count() == a.n * blocks, "MatMulNBits: scales ",
                 tensor_text(scales), " must hold N * blocks = ", a.n * blocks, " floats");
  const int64_t zp_row = (blocks * a.bits + 7) / 8;
  if (zero_points != nullptr) {
    const bool packed = zero_points->dtype() == DType::kUint8;
    check_argument((packed && zero_points->element_count() == a.n * zp_row) ||
                       (zero_points->dtype() == DType::kFloat && zero_points->element_count() == a.n * blocks),
                   "MatMulNBits: zero_points ", tensor_text(*zero_points), " must be uint8 [N * ", zp_row,
                   "] (packed) or float [N * ", blocks, "]");
  }
  const uint8_t* q = b.data<uint8_t>();
  const float* s = scales.data<float>();
  const float default_zero = static_cast<float>(1 << (a.bits - 1));
  std::vector<float> w(static_cast<size_t>(a.n * a.k));
  for (int64_t n = 0; n < a.n; ++n) {
    const uint8_t* row = q + n * blocks * a.blob_bytes();
    for (int64_t k = 0; k < a.k; ++k) {
      const int64_t block = k / a.block_size;
      float zero = default_zero;
      if (zero_points != nullptr) {
        zero = zero_points->dtype() == DType::kUint8
                   ? static_cast<float>(packed_value(zero_points->data<uint8_t>() + n * zp_row, block, a.bits))
                   : zero_points->data<float>()[n * blocks + block];
      }
      // Value k sits at position k of the row's stream (blocks are contiguous, each block_size values).
      const float value = static_cast<float>(packed_value(row, k, a.bits));
      w[static_cast<size_t>(n * a.k + k)] = (value - zero) * s[n * blocks + block];
    }
  }
  return w;
}

std::unique_ptr<Kernel> make_matmul_nbits(const KernelInfo& info) {
  const NBitsAttributes attrs = parse_attributes(info.node);
  // Constant weights: dequantized and packed once.
  std::shared_ptr<const PackedGemmF32> packed;
  const Tensor* b = info.constant_input(1);
  const Tensor* scales = info.constant_input(2);
  const bool zp_ready = !info.has_input(3) || info.constant_input(3) != nullptr;
  if (info.has_input(4)) {
    fail(ErrorCode::kUnsupported, info.node.label(), ": MatMulNBits with g_idx (act-order weights) is not supported");
  }
  if (b != nullptr && scales != nullptr && zp_ready) {
    const std::vector<float> w = dequantize_weights(attrs, *b, *scales, info.constant_input(3));
    packed = std::make_shared<const PackedGemmF32>(pack_gemm_b_f32(true, attrs.k, attrs.n, w.data(), attrs.k));
    for (size_t i = 1; i <= 3; ++i) info.consume_constant_input(i);
  }
  return make_kernel([attrs, packed](KernelContext& ctx) {
    const Tensor& a = ctx.input(0);
    check_argument(a.dtype() == DType::kFloat && a.rank() >= 1 && a.dim(a.rank() - 1) == attrs.k, "MatMulNBits: A ",
                   tensor_text(a), " must be float with last dim K = ", attrs.k);
    std::shared_ptr<const PackedGemmF32> weights = packed;
    if (weights == nullptr) {
      const std::vector<float> w =
          dequantize_weights(attrs, ctx.input(1), ctx.input(2), ctx.has_input(3) ? &ctx.input(3) : nullptr);
      weights = std::make_shared<const PackedGemmF32>(pack_gemm_b_f32(true, attrs.k, attrs.n, w.data(), attrs.k));
    }
    const float* bias = nullptr;
    if (ctx.has_input(5)) {
      const Tensor& b5 = ctx.input(5);
      check_argument(b5.dtype() == DType::kFloat && b5.element_count() == attrs.n, "MatMulNBits: bias ",
                     tensor_text(b5), " must hold N = ", attrs.n, " floats");
      bias = b5.data<float>();
    }
    std::vector<int64_t> shape = a.shape();
    shape.back() = attrs.n;
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, shape);
    const int64_t m = a.element_count() / attrs.k;
    if (m == 0) return;
    GemmEpilogueF32 epilogue;
    epilogue.column_bias = bias;
    gemm_f32_packed(m, attrs.n, attrs.k, 1.0f, GemmOperandF32{nullptr, a.data<float>(), attrs.k, false},
                    GemmOperandF32{weights.get()}, 0.0f, y.data<float>(), attrs.n, &ctx.parallelism(), &epilogue);
  });
}

void infer_matmul_nbits(InferenceContext& context) {
  const TypeInfo* a = context.input_type(0);
  if (a == nullptr || !a->is_tensor()) return;
  TypeInfo out = TypeInfo::tensor(a->elem_type);
  if (a->shape && !a->shape->empty()) {
    std::vector<Dim> dims = *a->shape;
    dims.back() = Dim::known(context.node().attr_int("N", 0));
    out.shape = dims;
  }
  context.set_output_type(0, out);
}

const RegisterOp kMatMulNBits{{.domain = kMicrosoftDomain,
                               .op_type = "MatMulNBits",
                               .since_version = 1,
                               .last_version = INT_MAX,
                               .factory = make_matmul_nbits,
                               .infer = infer_matmul_nbits}};

}  // namespace
}  // namespace tessera
