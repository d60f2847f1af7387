#include "ops/quantization/quant_params.h"

#include <algorithm>
#include <cmath>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"

namespace tessera::qlinear {

QuantParam read_param(KernelContext& ctx, size_t scale_index, size_t zp_index, DType dtype, const char* what) {
  const Tensor& scale = ctx.input(scale_index);
  check_argument(scale.dtype() == DType::kFloat && scale.element_count() == 1, what, " scale must be one float, got ",
                 tensor_text(scale));
  QuantParam p{scale.data<float>()[0], 0.0f};
  if (ctx.has_input(zp_index)) {
    const Tensor& zp = ctx.input(zp_index);
    check_argument(zp.dtype() == dtype && zp.element_count() == 1, what, " zero point must be one ", dtype_name(dtype),
                   ", got ", tensor_text(zp));
    p.zero_point =
        dtype == DType::kInt8 ? static_cast<float>(zp.data<int8_t>()[0]) : static_cast<float>(zp.data<uint8_t>()[0]);
  }
  return p;
}

uint8_t saturate_q8(float q, bool is_signed) {
  const float lo = is_signed ? -128.0f : 0.0f, hi = is_signed ? 127.0f : 255.0f;
  q = q > lo ? q : lo;  // NaN -> the minimum
  q = q < hi ? q : hi;
  return is_signed ? static_cast<uint8_t>(static_cast<int8_t>(q)) : static_cast<uint8_t>(q);
}

uint8_t quantize_one(float value, const QuantParam& p, bool is_signed) {
  return saturate_q8(std::nearbyint(value / p.scale) + p.zero_point, is_signed);
}

void build_lookup_table(const QuantParam& in, const QuantParam& out, bool is_signed,
                        const std::function<float(float)>& f, uint8_t table[256]) {
  for (int b = 0; b < 256; ++b) {
    const float value = is_signed ? static_cast<float>(static_cast<int8_t>(b)) : static_cast<float>(b);
    table[b] = quantize_one(f(in.scale * (value - in.zero_point)), out, is_signed);
  }
}

void apply_lookup_table(const uint8_t table[256], const uint8_t* src, int64_t count, uint8_t* dst,
                        Parallelism& parallelism) {
  constexpr int64_t kChunk = 65536;
  parallelism.parallel_for((count + kChunk - 1) / kChunk, [&](int64_t begin, int64_t end) {
    const int64_t stop = std::min(count, end * kChunk);
    for (int64_t i = begin * kChunk; i < stop; ++i) dst[i] = table[src[i]];
  });
}

}  // namespace tessera::qlinear
