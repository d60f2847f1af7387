// The q8-convert driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/q8-convert/q8-convert.h"

#include "kernels/q8-convert/q8-convert-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using q8_convert::ConvertSet;

VariantDispatch<ConvertSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<ConvertSet> instance(&q8_convert::kPortableSet, &q8_convert::kAvx2Set,
                                              &q8_convert::kAvx512Set);
#else
  static VariantDispatch<ConvertSet> instance(&q8_convert::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void q8_quantize_s8(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* y) {
  dispatch().active().quantize_s8(x, n, scale, static_cast<float>(zero_point), y);
}
void q8_quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y) {
  dispatch().active().quantize_u8(x, n, scale, static_cast<float>(zero_point), y);
}
void q8_dequantize_s8(const int8_t* x, int64_t n, float scale, int32_t zero_point, float* y) {
  dispatch().active().dequantize_s8(x, n, scale, static_cast<float>(zero_point), y);
}
void q8_dequantize_u8(const uint8_t* x, int64_t n, float scale, int32_t zero_point, float* y) {
  dispatch().active().dequantize_u8(x, n, scale, static_cast<float>(zero_point), y);
}

void q8_quantize_s8_row(const float* x, int64_t n, const float* scale, const float* zero_point, int8_t* y) {
  dispatch().active().quantize_s8_row(x, n, scale, zero_point, y);
}
void q8_quantize_u8_row(const float* x, int64_t n, const float* scale, const float* zero_point, uint8_t* y) {
  dispatch().active().quantize_u8_row(x, n, scale, zero_point, y);
}
void q8_dequantize_s8_row(const int8_t* x, int64_t n, const float* scale, const float* zero_point, float* y) {
  dispatch().active().dequantize_s8_row(x, n, scale, zero_point, y);
}
void q8_dequantize_u8_row(const uint8_t* x, int64_t n, const float* scale, const float* zero_point, float* y) {
  dispatch().active().dequantize_u8_row(x, n, scale, zero_point, y);
}

const char* q8_convert_kernel_name() { return dispatch().active().name; }
std::vector<std::string> q8_convert_kernel_names() { return dispatch().names(); }
bool q8_convert_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
