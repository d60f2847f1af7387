// Tests of ir/opset_semantics.h: the changes listed lie strictly after the model's opset and up to the target,
// oldest first; ops whose meaning never changed list none.
#include "ir/opset_semantics.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(OpsetSemanticsTest, ChangesBetweenTwoOpsets) {
  const auto pad = opset_semantics_changes("Pad", 2, 28);
  ASSERT_EQ(pad.size(), 3u);
  EXPECT_EQ(pad[0].version, 11);
  EXPECT_EQ(pad[1].version, 18);
  EXPECT_EQ(pad[2].version, 19);
  EXPECT_EQ(opset_semantics_changes("Pad", 11, 28).size(), 2u);  // 11 itself is already the model's meaning
  EXPECT_EQ(opset_semantics_changes("Pad", 2, 17).size(), 1u);   // only up to the target
  EXPECT_TRUE(opset_semantics_changes("Relu", 1, 28).empty());
  EXPECT_TRUE(opset_semantics_changes("Softmax", 13, 28).empty());
  EXPECT_EQ(opset_semantics_changes("Softmax", 12, 13).at(0).version, 13);
}

}  // namespace
}  // namespace tessera
