// small_blocks: size classes, alignment, reuse within a thread, blocks released on another thread, and the
// zero-filled contract of Tensor storage on a recycled block.
#include "base/small_blocks.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>

#include "base/tensor.h"

namespace tessera {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaches = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCaches = false;
#else
constexpr bool kCaches = true;
#endif
#else
constexpr bool kCaches = true;
#endif

TEST(SmallBlocksTest, SizeClassesArePowersOfTwoFrom64Bytes) {
  EXPECT_EQ(small_blocks::block_bytes(0), 0u);
  EXPECT_EQ(small_blocks::block_bytes(1), 64u);
  EXPECT_EQ(small_blocks::block_bytes(64), 64u);
  EXPECT_EQ(small_blocks::block_bytes(65), 128u);
  EXPECT_EQ(small_blocks::block_bytes(5000), 8192u);
  EXPECT_EQ(small_blocks::block_bytes(small_blocks::kLargestBlock), small_blocks::kLargestBlock);
  EXPECT_EQ(small_blocks::block_bytes(small_blocks::kLargestBlock + 1), 0u);
}

TEST(SmallBlocksTest, BlocksAreAlignedWholeAndReusedOnTheirThread) {
  void* a = small_blocks::acquire(100);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 0xAB, small_blocks::block_bytes(100));  // the whole class size is usable
  small_blocks::release(a, 100);
  void* b = small_blocks::acquire(120);  // the same class (128 bytes)
  if (kCaches) EXPECT_EQ(a, b);
  small_blocks::release(b, 120);
}

TEST(SmallBlocksTest, ABlockMayBeReleasedOnAnotherThread) {
  void* a = small_blocks::acquire(3000);
  std::thread other([a] { small_blocks::release(a, 3000); });
  other.join();
  void* b = small_blocks::acquire(3000);
  ASSERT_NE(b, nullptr);
  small_blocks::release(b, 3000);
}

TEST(SmallBlocksTest, TensorsOnRecycledBlocksStartZeroed) {
  {
    Tensor t(DType::kFloat, {33});
    for (int i = 0; i < 33; ++i) t.data<float>()[i] = 1.5f;
  }
  Tensor fresh(DType::kFloat, {33});
  for (int i = 0; i < 33; ++i) ASSERT_EQ(fresh.data<float>()[i], 0.0f) << i;
  EXPECT_TRUE(fresh.storage()->owned());  // a kernel may write over it in place
}

}  // namespace
}  // namespace tessera
