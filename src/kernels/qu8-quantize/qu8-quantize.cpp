// The qu8-quantize driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/qu8-quantize/qu8-quantize.h"

#include <cmath>

#include "kernels/qu8-quantize/qu8-quantize-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using qu8_quantize::QuantizeSet;

VariantDispatch<QuantizeSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<QuantizeSet> instance(&qu8_quantize::kPortableSet, &qu8_quantize::kAvx2Set,
                                               &qu8_quantize::kAvx512Set);
#else
  static VariantDispatch<QuantizeSet> instance(&qu8_quantize::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

DynamicQuantU8 dynamic_quant_u8_params(const float* x, int64_t n) {
  float lo = 0, hi = 0;
  dispatch().active().min_max(x, n, &lo, &hi);
  DynamicQuantU8 q;
  q.scale = (hi - lo) / 255.0f;
  if (q.scale != 0) {
    const float zero = std::nearbyint(-lo / q.scale);
    q.zero_point = static_cast<uint8_t>(zero > 0.0f ? (zero < 255.0f ? zero : 255.0f) : 0.0f);
  }
  return q;
}

void quantize_u8(const float* x, int64_t n, const DynamicQuantU8& q, uint8_t* y) {
  if (q.scale == 0) {
    for (int64_t i = 0; i < n; ++i) y[i] = q.zero_point;
    return;
  }
  dispatch().active().quantize(x, n, q.scale, static_cast<float>(q.zero_point), y);
}

const char* qu8_quantize_kernel_name() { return dispatch().active().name; }
std::vector<std::string> qu8_quantize_kernel_names() { return dispatch().names(); }
bool qu8_quantize_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
