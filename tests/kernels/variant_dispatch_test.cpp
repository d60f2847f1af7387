// Tests of kernels/variant_dispatch.h and the CPUID flags it is fed: the order of the runnable variants on this
// CPU's ISA (extension variants first, skipped when absent), active_where's per-call choice, and the test hook.
#include "kernels/variant_dispatch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/cpu_features.h"

namespace tessera {
namespace {

struct FakeSet {
  const char* name;
  int min_size;
};

const FakeSet kPortable{"portable", 0};
const FakeSet kAvx2{"avx2", 0};
const FakeSet kAvxVnni{"avxvnni", 0};
const FakeSet kAvx512{"avx512", 0};
const FakeSet kAmx{"amx", 64};

// What the constructor should list on this CPU for the sets above (nullptr extensions dropped).
std::vector<std::string> expected_order() {
  switch (cpu_kernel_isa()) {
    case KernelIsa::kAvx512:
      return {"amx", "avx512", "avxvnni", "avx2", "portable"};
    case KernelIsa::kAvx2:
      return {"avxvnni", "avx2", "portable"};
    case KernelIsa::kPortable:
      break;
  }
  return {"portable"};
}

TEST(VariantDispatch, ExtensionsComeAheadOfTheirBaseAndAbsentOnesAreSkipped) {
  const VariantDispatch<FakeSet> all(&kPortable, &kAvx2, &kAvx512, {&kAmx}, {&kAvxVnni});
  EXPECT_EQ(all.names(), expected_order());
  const VariantDispatch<FakeSet> none(&kPortable, &kAvx2, &kAvx512, {nullptr}, {nullptr});
  std::vector<std::string> without = expected_order();
  std::erase(without, "amx");
  std::erase(without, "avxvnni");
  EXPECT_EQ(none.names(), without);
}

TEST(VariantDispatch, ActiveWhereTakesTheFirstVariantThatFitsUnlessOneIsSelected) {
  VariantDispatch<FakeSet> dispatch(&kPortable, &kAvx2, &kAvx512, {&kAmx}, {&kAvxVnni});
  const std::vector<std::string> order = dispatch.names();
  const auto fits = [](int size) { return [size](const FakeSet& set) { return size >= set.min_size; }; };
  EXPECT_EQ(dispatch.active_where(fits(64)).name, order.front());
  // Too small for the AMX stand-in: the next variant in order.
  const std::string small = dispatch.active_where(fits(8)).name;
  EXPECT_EQ(small, order.front() == "amx" ? order[1] : order.front());
  // Nothing fits: the last (portable) variant.
  EXPECT_STREQ(dispatch.active_where([](const FakeSet&) { return false; }).name, "portable");
  // A selected variant runs every call, fit or not, until the CPUID choice is restored.
  ASSERT_TRUE(dispatch.select(order.front()));
  EXPECT_EQ(dispatch.active_where(fits(8)).name, order.front());
  EXPECT_FALSE(dispatch.select("no-such-variant"));
  EXPECT_EQ(dispatch.active().name, order.front());
  ASSERT_TRUE(dispatch.select(""));
  EXPECT_EQ(dispatch.active_where(fits(8)).name, small);
}

// The extension flags imply the ISA level their files are compiled for.
TEST(CpuFeatures, ExtensionFlagsImplyTheirBaseIsa) {
  if (cpu_has_amx_int8()) EXPECT_TRUE(cpu_has_avx512_vnni());
  if (cpu_has_amx_bf16() || cpu_has_avx512_vnni() || cpu_has_avx512_bf16()) {
    EXPECT_EQ(cpu_kernel_isa(), KernelIsa::kAvx512);
  }
  if (cpu_has_avx_vnni()) EXPECT_NE(cpu_kernel_isa(), KernelIsa::kPortable);
  GTEST_LOG_(INFO) << "avx512_vnni " << cpu_has_avx512_vnni() << " avx512_bf16 " << cpu_has_avx512_bf16()
                   << " avx_vnni " << cpu_has_avx_vnni() << " amx_int8 " << cpu_has_amx_int8() << " amx_bf16 "
                   << cpu_has_amx_bf16();
}

}  // namespace
}  // namespace tessera
