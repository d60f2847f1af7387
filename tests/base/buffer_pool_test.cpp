// Tests of base/buffer_pool.h: buffers of the same size are recycled, recycled tensors are still zero-filled,
// trim() empties the cache.
#include "base/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/tensor.h"

namespace tessera {
namespace {

TEST(BufferPool, RecyclesBuffersOfTheSameSize) {
  buffer_pool::trim();
  const size_t bytes = 300000;
  bool zeroed = false;
  void* first = buffer_pool::acquire(bytes, &zeroed);
  EXPECT_TRUE(zeroed);
  std::memset(first, 0x5A, bytes);
  buffer_pool::release(first, bytes);
  EXPECT_EQ(buffer_pool::cached_bytes(), buffer_pool::rounded_size(bytes));
  void* second = buffer_pool::acquire(bytes, &zeroed);
  EXPECT_EQ(second, first);
  EXPECT_FALSE(zeroed);
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
  // Another size does not take it.
  buffer_pool::release(second, bytes);
  void* other = buffer_pool::acquire(bytes * 2, &zeroed);
  EXPECT_NE(other, first);
  EXPECT_TRUE(zeroed);
  buffer_pool::release(other, bytes * 2);
  buffer_pool::trim();
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
}

TEST(BufferPool, RecycledTensorsAreZeroFilled) {
  buffer_pool::trim();
  const std::vector<int64_t> shape{256, 300};  // 300 KB: pooled
  void* address = nullptr;
  {
    Tensor t(DType::kFloat, shape);
    address = t.raw_data();
    for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = 1.5f;
  }
  EXPECT_GT(buffer_pool::cached_bytes(), 0u);
  Tensor again(DType::kFloat, shape);
  EXPECT_EQ(again.raw_data(), address);
  for (int64_t i = 0; i < again.element_count(); ++i) ASSERT_EQ(again.data<float>()[i], 0.0f) << i;
  buffer_pool::trim();
}

}  // namespace
}  // namespace tessera
