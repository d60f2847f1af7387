// The f32-winograd driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/f32-winograd/f32-winograd.h"

#include "kernels/f32-winograd/f32-winograd-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using f32_winograd::WinogradSet;

VariantDispatch<WinogradSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<WinogradSet> instance(&f32_winograd::kPortableSet, &f32_winograd::kAvx2Set,
                                               &f32_winograd::kAvx512Set);
#else
  static VariantDispatch<WinogradSet> instance(&f32_winograd::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void winograd_input_transform_f32(const WinogradPlanes& g, const float* x, int64_t t0, int64_t t1, float* v) {
  dispatch().active().input(g, x, t0, t1, v);
}

void winograd_output_transform_f32(const WinogradPlanes& g, const float* m, const float* bias, float lo, float hi,
                                   int64_t t0, int64_t t1, float* y) {
  dispatch().active().output(g, m, bias, lo, hi, t0, t1, y);
}

const char* winograd_f32_kernel_name() { return dispatch().active().name; }
std::vector<std::string> winograd_f32_kernel_names() { return dispatch().names(); }
bool winograd_f32_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
