// The x32-transpose driver: picks the ISA table once from CPUID and forwards to it.
#include "kernels/x32-transpose/x32-transpose.h"

#include "kernels/variant_dispatch.h"
#include "kernels/x32-transpose/x32-transpose-table.h"

namespace tessera {
namespace {

using x32_transpose::TransposeSet;

VariantDispatch<TransposeSet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<TransposeSet> instance(&x32_transpose::kPortableSet, &x32_transpose::kAvx2Set,
                                                &x32_transpose::kAvx512Set);
#else
  static VariantDispatch<TransposeSet> instance(&x32_transpose::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void transpose_x32(const uint32_t* src, int64_t src_ld, uint32_t* dst, int64_t dst_ld, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  dispatch().active().transpose(src, src_ld, dst, dst_ld, rows, cols);
}

const char* x32_transpose_kernel_name() { return dispatch().active().name; }
std::vector<std::string> x32_transpose_kernel_names() { return dispatch().names(); }
bool x32_transpose_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
