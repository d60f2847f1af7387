// The f32-dwconv driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-dwconv/f32-dwconv.h"

#include "kernels/f32-dwconv/f32-dwconv-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_dwconv::DwConvSet;

VariantDispatch<DwConvSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<DwConvSet> instance(&f32_dwconv::kPortableSet, &f32_dwconv::kAvx2Set, &f32_dwconv::kAvx512Set);
#else
  static VariantDispatch<DwConvSet> instance(&f32_dwconv::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

int64_t dwconv2d_f32_scratch_floats(const DwConv2dF32Params& p) {
  const f32_dwconv::PhaseLayout layout = f32_dwconv::phase_layout(p);
  return layout.phases * layout.rows * layout.phase_width;
}

void dwconv2d_f32(const DwConv2dF32Params& p, const float* x, const float* w, float bias, float* y, float* scratch) {
  dispatch().active().run(p, x, w, bias, y, scratch);
}

int64_t dwconv2d_f32_channels_scratch_floats(const DwConv2dF32Params& p) {
  // Large planes go plane by plane through the phase-split loop, small ones through the interleaved buffer.
  if (p.out_h * p.out_w > kDwConvChannelsMaxOutputs) return dwconv2d_f32_scratch_floats(p);
  const f32_dwconv::ChannelLayout layout = f32_dwconv::channel_layout(p);
  return layout.buffer_floats + p.out_h * p.out_w * f32_dwconv::kBlock;
}

void dwconv2d_f32_channels(const DwConv2dF32Params& p, int64_t count, const float* const* x, const float* w,
                           const float* bias, float* y, float* scratch) {
  dispatch().active().run_channels(p, count, x, w, bias, y, scratch);
}

const char* dwconv2d_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> dwconv2d_f32_kernel_names() { return dispatch().names(); }
bool dwconv2d_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
