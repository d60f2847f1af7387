// The f32-dwconv-nhwc driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc.h"

#include "kernels/f32-dwconv-nhwc/f32-dwconv-nhwc-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_dwconv_nhwc::DwConvNhwcSet;

VariantDispatch<DwConvNhwcSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<DwConvNhwcSet> instance(&f32_dwconv_nhwc::kPortableSet, &f32_dwconv_nhwc::kAvx2Set,
                                                 &f32_dwconv_nhwc::kAvx512Set);
#else
  static VariantDispatch<DwConvNhwcSet> instance(&f32_dwconv_nhwc::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void dwconv_nhwc_f32(const DwConvNhwcF32Params& p, const float* x, const float* w, const float* bias, const float* sum,
                     float* y, int64_t row_begin, int64_t row_end, int64_t channel_begin, int64_t channel_end) {
  if (row_begin >= row_end || channel_begin >= channel_end) return;
  dispatch().active().run(p, x, w, bias, sum, y, row_begin, row_end, channel_begin, channel_end);
}

const char* dwconv_nhwc_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> dwconv_nhwc_f32_kernel_names() { return dispatch().names(); }
bool dwconv_nhwc_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
