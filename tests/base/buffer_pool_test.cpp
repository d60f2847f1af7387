// Tests of base/buffer_pool.h: buffers are recycled, a smaller request reuses a larger freed block (compactness),
// free neighbours merge, chunks freed together merge into one mapping (their pages moved, not faulted in again; the
// arena then grows by requests alone), recycled tensors are still zero-filled, trim() empties the cache.
#include "base/buffer_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

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
  // A larger size does not fit in it: a fresh mapping.
  buffer_pool::release(second, bytes);
  void* other = buffer_pool::acquire(bytes * 2, &zeroed);
  EXPECT_NE(other, first);
  EXPECT_TRUE(zeroed);
  buffer_pool::release(other, bytes * 2);
  buffer_pool::trim();
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
}

TEST(BufferPool, SmallerRequestsReuseTheFreedMemoryInPlace) {
  buffer_pool::trim();
  const size_t big = 1 << 20, small = 256 << 10;
  bool zeroed = false;
  char* block = static_cast<char*>(buffer_pool::acquire(big, &zeroed));
  buffer_pool::release(block, big);
  // Two smaller buffers are cut from the freed block, one after the other, instead of new mappings.
  char* first = static_cast<char*>(buffer_pool::acquire(small, &zeroed));
  EXPECT_FALSE(zeroed);
  char* second = static_cast<char*>(buffer_pool::acquire(small, &zeroed));
  EXPECT_EQ(first, block);
  EXPECT_EQ(second, block + small);
  EXPECT_EQ(buffer_pool::cached_bytes(), big - 2 * small);
  // Released, they merge back with the rest: the whole block fits again at the same address.
  buffer_pool::release(second, small);
  buffer_pool::release(first, small);
  EXPECT_EQ(buffer_pool::cached_bytes(), big);
  void* again = buffer_pool::acquire(big, &zeroed);
  EXPECT_EQ(again, block);
  buffer_pool::release(again, big);
  buffer_pool::trim();
}

// Minor page faults of this process so far.
long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

TEST(BufferPool, ChunksFreedTogetherMergeIntoOneMapping) {
  buffer_pool::trim();
  const size_t size = 512 << 10;
  bool zeroed = false;
  // Each request finds no free block, so the arena grows a chunk for it.
  char* a = static_cast<char*>(buffer_pool::acquire(size, &zeroed));
  char* b = static_cast<char*>(buffer_pool::acquire(size, &zeroed));
  char* c = static_cast<char*>(buffer_pool::acquire(2 * size, &zeroed));
  std::memset(a, 1, size);
  std::memset(b, 2, size);
  std::memset(c, 3, 2 * size);
  buffer_pool::release(a, size);
  buffer_pool::release(b, size);
  buffer_pool::release(c, 2 * size);
  const size_t total = buffer_pool::cached_bytes();
  EXPECT_GE(total, 4 * size);
  // One request of the whole free size fits: the chunks were merged into one mapping. Their pages were moved into
  // it, data and all: not known zero, and writing them all again faults few pages in (a fresh mapping would fault
  // in every page the three buffers had touched).
  const long faults_before = minor_faults();
  char* whole = static_cast<char*>(buffer_pool::acquire(total, &zeroed));
  EXPECT_FALSE(zeroed);
  size_t ones = 0, twos = 0, threes = 0;
  for (size_t i = 0; i < total; ++i) {
    ones += whole[i] == 1;
    twos += whole[i] == 2;
    threes += whole[i] == 3;
  }
  EXPECT_EQ(ones, size);
  EXPECT_EQ(twos, size);
  EXPECT_EQ(threes, 2 * size);
  std::memset(whole, 4, 4 * size);
  const long touched_pages = static_cast<long>(4 * size / 4096);
  EXPECT_LT(minor_faults() - faults_before, touched_pages / 2);
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
  // After a merge the arena grows by the request alone: one more page-sized buffer beyond the free space maps one
  // chunk of its own size, not one of the arena's.
  void* more = buffer_pool::acquire(4096, &zeroed);
  EXPECT_TRUE(zeroed);
  EXPECT_EQ(buffer_pool::cached_bytes(), 0u);
  buffer_pool::release(more, 4096);
  buffer_pool::release(whole, total);
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
