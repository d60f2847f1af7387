// The q8-dwconv driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/q8-dwconv/q8-dwconv.h"

#include "kernels/q8-dwconv/q8-dwconv-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using q8_dwconv::Q8DwConvSet;

VariantDispatch<Q8DwConvSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<Q8DwConvSet> instance(&q8_dwconv::kPortableSet, &q8_dwconv::kAvx2Set, &q8_dwconv::kAvx512Set);
#else
  static VariantDispatch<Q8DwConvSet> instance(&q8_dwconv::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

bool q8_dwconv3x3_supports(const Window2d& w) {
  return w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 && w.stride_h >= 1 &&
         (w.stride_w == 1 || w.stride_w == 2) && w.out_h > 0 && w.out_w > 0 && w.in_h > 0 && w.in_w > 0 &&
         w.pad_top >= 0 && w.pad_left >= 0;
}

int64_t q8_dwconv3x3_scratch_bytes(const Window2d& w) { return q8_dwconv::plane_layout(w).bytes(); }

void q8_dwconv3x3(const Window2d& w, const uint8_t* x, bool x_signed, int32_t x_zero_point, const int16_t* weights,
                  int32_t bias, int32_t* sums, void* scratch) {
  dispatch().active().run(w, x, x_signed, x_zero_point, weights, bias, sums, scratch);
}

int64_t q8_dwconv3x3_nhwc_scratch_bytes(int64_t /*ld*/) {
  return 5 * 2 * 2 * q8_dwconv::kMaxLanes * static_cast<int64_t>(sizeof(int16_t));  // one group's weight registers
}

void q8_dwconv3x3_nhwc(const Window2d& w, int64_t channels, int64_t ld, const uint8_t* x, bool x_signed,
                       const int16_t* weights, int32_t* sums, void* scratch) {
  dispatch().active().run_nhwc(w, channels, ld, x, x_signed, weights, sums, scratch);
}

int32_t q8_dwconv3x3_folded_bias(int32_t bias, int32_t zero_point, const int16_t* weights) {
  return q8_dwconv::folded_bias(bias, zero_point, weights);
}

const char* q8_dwconv3x3_kernel_name() { return dispatch().active().name; }
std::vector<std::string> q8_dwconv3x3_kernel_names() { return dispatch().names(); }
bool q8_dwconv3x3_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
