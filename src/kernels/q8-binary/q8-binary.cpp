// The q8-binary driver: picks the ISA variant once from CPUID and forwards to it.
#include "kernels/q8-binary/q8-binary.h"

#include "kernels/q8-binary/q8-binary-table.h"
#include "kernels/variant_dispatch.h"

namespace tessera {
namespace {

using q8_binary::BinarySet;

VariantDispatch<BinarySet>& dispatch() {
#if defined(__x86_64__)
  static VariantDispatch<BinarySet> instance(&q8_binary::kPortableSet, &q8_binary::kAvx2Set, &q8_binary::kAvx512Set);
#else
  static VariantDispatch<BinarySet> instance(&q8_binary::kPortableSet, nullptr, nullptr);
#endif
  return instance;
}

}  // namespace

void q8_binary_elementwise(bool multiply, bool is_signed, const void* a, const void* b, int64_t n,
                           const Q8BinaryParams& p, void* c) {
  const BinarySet& set = dispatch().active();
  const q8_binary::BinaryFn fn =
      multiply ? (is_signed ? set.mul_s8 : set.mul_u8) : (is_signed ? set.add_s8 : set.add_u8);
  fn(a, b, n, p, c);
}

const char* q8_binary_kernel_name() { return dispatch().active().name; }
std::vector<std::string> q8_binary_kernel_names() { return dispatch().names(); }
bool q8_binary_select_kernel(const std::string& name) { return dispatch().select(name); }

}  // namespace tessera
