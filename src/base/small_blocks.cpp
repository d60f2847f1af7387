#include "base/small_blocks.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <vector>

#include "base/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_SMALL_BLOCKS_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESSERA_SMALL_BLOCKS_CACHE 0
#endif
#endif
#ifndef TESSERA_SMALL_BLOCKS_CACHE
#define TESSERA_SMALL_BLOCKS_CACHE 1
#endif

namespace tessera::small_blocks {
namespace {

constexpr size_t kSmallestBlock = 64;
constexpr int kClasses = std::countr_zero(kLargestBlock) - std::countr_zero(kSmallestBlock) + 1;

int class_of(size_t block) { return std::countr_zero(block) - std::countr_zero(kSmallestBlock); }

// Whether this thread's cache has been destroyed (the thread is ending; for the main thread, static objects that
// hold tensors may still release blocks afterwards): a plain thread_local flag, which outlives it.
thread_local bool tls_cache_gone = false;

// One thread's free blocks per class; handed back to the heap when the thread ends.
struct ThreadCache {
  std::vector<void*> free[kClasses];
  ~ThreadCache() {
    tls_cache_gone = true;
    for (auto& blocks : free)
      for (void* b : blocks) std::free(b);
  }
};

// This thread's cache, or nullptr once it is gone.
ThreadCache* thread_cache() {
  if (tls_cache_gone) return nullptr;
  thread_local ThreadCache cache;
  return &cache;
}

}  // namespace

size_t block_bytes(size_t bytes) {
  if (bytes == 0 || bytes > kLargestBlock) return 0;
  return std::max(kSmallestBlock, std::bit_ceil(bytes));
}

void* acquire(size_t bytes) {
  const size_t block = block_bytes(bytes);
  check_argument(block != 0, "small_blocks::acquire: ", bytes, " bytes is not a small block");
  ThreadCache* cache = TESSERA_SMALL_BLOCKS_CACHE ? thread_cache() : nullptr;
  if (cache != nullptr) {
    std::vector<void*>& blocks = cache->free[class_of(block)];
    if (!blocks.empty()) {
      void* b = blocks.back();
      blocks.pop_back();
      return b;
    }
  }
  void* memory = std::aligned_alloc(64, block);
  if (memory == nullptr) fail(ErrorCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for a tensor");
  return memory;
}

void release(void* block, size_t bytes) {
  const size_t size = block_bytes(bytes);
  ThreadCache* cache = TESSERA_SMALL_BLOCKS_CACHE && size != 0 ? thread_cache() : nullptr;
  if (cache != nullptr) {
    std::vector<void*>& blocks = cache->free[class_of(size)];
    if (blocks.size() * size < kCachedBytesPerClass) {
      blocks.push_back(block);
      return;
    }
  }
  std::free(block);
}

}  // namespace tessera::small_blocks
