// Tests of kernels/x32-transpose: every variant this CPU can run (the others are reported as skipped) writes
// exactly the bits of a scalar loop, for blocks of any size (register tiles, their edges, single rows and
// columns), leading dims larger than the block on both sides (and a src leading dim of 0), and float data
// with NaN payloads; nothing outside the block's destination elements is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/x32-transpose/x32-transpose.h"

namespace tessera {
namespace {

constexpr uint32_t kSentinel = 0xDEADBEEFu;

class X32TransposeVariant : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto names = x32_transpose_kernel_names();
    if (std::find(names.begin(), names.end(), GetParam()) == names.end()) {
      GTEST_SKIP() << GetParam() << " cannot run on this CPU";
    }
    ASSERT_TRUE(x32_transpose_select_kernel(GetParam()));
  }
  void TearDown() override { x32_transpose_select_kernel(""); }
};

// Transposes a rows x cols block with the given leading-dim slack and checks every dst element, inside the block
// and out, against a scalar loop.
void check(int64_t rows, int64_t cols, int64_t src_pad, int64_t dst_pad, unsigned seed) {
  std::mt19937 rng(seed);
  const int64_t src_ld = cols + src_pad;
  const int64_t dst_ld = rows + dst_pad;
  std::vector<uint32_t> src(static_cast<size_t>(rows * src_ld));
  for (uint32_t& v : src) v = static_cast<uint32_t>(rng());
  // A quiet NaN with a payload, a signalling NaN, -0 and a denormal among the data.
  const uint32_t specials[] = {0x7FC01234u, 0x7F800001u, 0x80000000u, 0x00000001u};
  for (size_t i = 0; i < std::size(specials) && i < src.size(); ++i) src[(i * 13) % src.size()] = specials[i];
  std::vector<uint32_t> dst(static_cast<size_t>(cols * dst_ld), kSentinel);
  std::vector<uint32_t> want = dst;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j)
      want[static_cast<size_t>(j * dst_ld + i)] = src[static_cast<size_t>(i * src_ld + j)];
  }
  transpose_x32(src.data(), src_ld, dst.data(), dst_ld, rows, cols);
  for (size_t e = 0; e < dst.size(); ++e) {
    ASSERT_EQ(dst[e], want[e]) << rows << "x" << cols << " lds " << src_ld << "/" << dst_ld << " dst element " << e;
  }
}

TEST_P(X32TransposeVariant, ListedSizesGiveTheScalarBits) {
  const int64_t sizes[][2] = {{1, 1},    {1, 37},   {37, 1},  {1, 16},   {16, 1},  {15, 17}, {16, 16},
                              {17, 15},  {8, 8},    {7, 9},   {32, 32},  {33, 65}, {65, 33}, {100, 37},
                              {37, 100}, {144, 16}, {49, 16}, {300, 20}, {20, 300}};
  unsigned seed = 1;
  for (const auto& size : sizes) {
    for (int64_t src_pad : {0, 3, 16}) {
      for (int64_t dst_pad : {0, 5, 17}) check(size[0], size[1], src_pad, dst_pad, seed++);
    }
  }
}

TEST_P(X32TransposeVariant, RandomSizesGiveTheScalarBits) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> size(1, 70), pad(0, 20);
  for (int trial = 0; trial < 200; ++trial) check(size(rng), size(rng), pad(rng), pad(rng), 1000 + trial);
}

TEST_P(X32TransposeVariant, FloatsKeepTheirBits) {
  const int64_t rows = 19, cols = 23;
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) * 0.37f - 50.0f;
  src[3] = std::numeric_limits<float>::quiet_NaN();
  src[40] = -std::numeric_limits<float>::infinity();
  src[77] = -0.0f;
  std::vector<float> dst(src.size());
  transpose_x32(reinterpret_cast<const uint32_t*>(src.data()), cols, reinterpret_cast<uint32_t*>(dst.data()), rows,
                rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float a = dst[static_cast<size_t>(j * rows + i)], b = src[static_cast<size_t>(i * cols + j)];
      ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i << "," << j;
    }
  }
}

TEST_P(X32TransposeVariant, BroadcastSourceRowAndEmptyBlocks) {
  // src_ld 0: every source row is the same row.
  const int64_t rows = 21, cols = 18;
  std::vector<uint32_t> row(static_cast<size_t>(cols));
  for (size_t j = 0; j < row.size(); ++j) row[j] = static_cast<uint32_t>(j * 7 + 1);
  std::vector<uint32_t> dst(static_cast<size_t>(rows * cols), kSentinel);
  transpose_x32(row.data(), 0, dst.data(), rows, rows, cols);
  for (int64_t j = 0; j < cols; ++j) {
    for (int64_t i = 0; i < rows; ++i) ASSERT_EQ(dst[static_cast<size_t>(j * rows + i)], row[static_cast<size_t>(j)]);
  }
  // Empty blocks write nothing.
  std::vector<uint32_t> untouched(4, kSentinel);
  transpose_x32(row.data(), cols, untouched.data(), 4, 0, 4);
  transpose_x32(row.data(), cols, untouched.data(), 4, 4, 0);
  for (uint32_t v : untouched) EXPECT_EQ(v, kSentinel);
}

TEST(X32Transpose, NamesTheCpuidChoiceFirst) {
  const auto names = x32_transpose_kernel_names();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), x32_transpose_kernel_name());
  EXPECT_EQ(names.back(), "x32_transpose__portable");
  EXPECT_FALSE(x32_transpose_select_kernel("x32_transpose__none"));
  EXPECT_EQ(names.front(), x32_transpose_kernel_name());
}

INSTANTIATE_TEST_SUITE_P(Variants, X32TransposeVariant,
                         ::testing::Values("x32_transpose__portable", "x32_transpose__avx2", "x32_transpose__avx512"));

}  // namespace
}  // namespace tessera
