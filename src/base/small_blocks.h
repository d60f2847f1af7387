// small_blocks: the per-thread cache behind small tensors (below the buffer pool's kMinPooledBytes). A kernel's
// outputs, a control-flow body's values and a pipeline's scalars come and go at every run; from the heap each was
// an aligned_alloc and a free (glibc's memalign path bypasses its per-thread cache): malloc and free took a third
// of a k-nearest-neighbours model's Scan at one row. Blocks are 64-byte aligned, in power-of-two size classes from
// 64 bytes to kLargestBlock; each thread keeps up to kCachedBytesPerClass of free blocks per class (a block freed
// on another thread joins that thread's cache) and gives the rest back to the heap. Under AddressSanitizer nothing
// is cached, so a use after free is still caught.
#pragma once

#include <cstddef>

namespace tessera::small_blocks {

// Largest block size served; larger requests get 0 from block_bytes.
inline constexpr size_t kLargestBlock = size_t{32} << 10;
// Free bytes a thread keeps per size class.
inline constexpr size_t kCachedBytesPerClass = size_t{256} << 10;

// The size of the block acquire(bytes) returns (a power of two >= 64), or 0 when bytes is 0 or above kLargestBlock.
size_t block_bytes(size_t bytes);

// A 64-byte aligned block of block_bytes(bytes) bytes (its contents undefined). Throws Error(kOutOfMemory).
void* acquire(size_t bytes);

// Returns a block from acquire(bytes) (the same `bytes`).
void release(void* block, size_t bytes);

}  // namespace tessera::small_blocks
