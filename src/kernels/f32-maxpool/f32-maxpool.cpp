// The f32-maxpool driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-maxpool/f32-maxpool.h"

#include "kernels/f32-maxpool/f32-maxpool-table.h"
#include "kernels/variant_dispatch.h"

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

const char* maxpool2d_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> maxpool2d_f32_kernel_names() { return dispatch().names(); }
bool maxpool2d_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
