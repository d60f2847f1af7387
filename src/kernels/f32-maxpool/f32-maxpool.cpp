// The f32-maxpool driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-maxpool/f32-maxpool.h"

#include <algorithm>

#include "kernels/f32-maxpool/f32-maxpool-table.h"
#include "kernels/variant_dispatch.h"
#include "kernels/x32-transpose/x32-transpose.h"

namespace tessera {
namespace {

using f32_maxpool::MaxPoolSet;

VariantDispatch<MaxPoolSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<MaxPoolSet> instance(&f32_maxpool::kPortableSet, &f32_maxpool::kAvx2Set,
                                              &f32_maxpool::kAvx512Set);
#else
  static VariantDispatch<MaxPoolSet> instance(&f32_maxpool::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

int64_t maxpool2d_f32_scratch_floats(const MaxPool2dF32Params& p) { return f32_maxpool::row_buffer_floats(p); }

void maxpool2d_f32(const MaxPool2dF32Params& p, const float* x, float* y, float* scratch) {
  dispatch().active().run(p, x, y, scratch);
}

void maxpool2d_f32_channels(const MaxPool2dF32Params& p, int64_t count, const float* x, int64_t x_plane, float* y,
                            int64_t y_plane, float* scratch) {
  const int64_t in_size = p.in_h * p.in_w, out_size = p.out_h * p.out_w;
  float* in = scratch;
  float* out = scratch + in_size * kMaxPoolChannelBlock;
  // Lanes past `count` are pooled too (zeros) and never stored back.
  if (count < kMaxPoolChannelBlock) std::fill(in, in + in_size * kMaxPoolChannelBlock, 0.0f);
  transpose_x32(reinterpret_cast<const uint32_t*>(x), x_plane, reinterpret_cast<uint32_t*>(in), kMaxPoolChannelBlock,
                count, in_size);
  dispatch().active().run_interleaved(p, in, out);
  transpose_x32(reinterpret_cast<const uint32_t*>(out), kMaxPoolChannelBlock, reinterpret_cast<uint32_t*>(y), y_plane,
                out_size, count);
}

const char* maxpool2d_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> maxpool2d_f32_kernel_names() { return dispatch().names(); }
bool maxpool2d_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
