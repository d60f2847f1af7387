// The fixture of a kernel family's per-variant tests (TEST_P over variant names): SetUp skips a variant this CPU
// cannot run and selects the others through the family's test hook; TearDown restores the CPUID choice.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tessera {

template <std::vector<std::string> (*Names)(), bool (*Select)(const std::string&)>
class KernelVariantTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::vector<std::string> names = Names();
    if (std::find(names.begin(), names.end(), GetParam()) == names.end()) {
      GTEST_SKIP() << GetParam() << " cannot run on this CPU";
    }
    ASSERT_TRUE(Select(GetParam()));
  }
  void TearDown() override { Select(""); }
};

}  // namespace tessera
