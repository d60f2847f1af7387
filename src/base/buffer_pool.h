// BufferPool: recycles the large page-aligned buffers behind tensors, so a model run at a steady shape does not
// map, fault in, zero and unmap its intermediates again on every run (that churn cost ~20% of BERT-base and
// ResNet-50 latency before the pool existed).
//
// Buffers are kept per exact size (rounded up to whole pages); a released buffer waits for the next request of
// the same size. The cache is bounded (kMaxCachedBytes); past it, released buffers go back to the OS. One pool
// serves the process; it is thread-safe.
#pragma once

#include <cstddef>

namespace tessera::buffer_pool {

// Buffers from this size on come from the pool (smaller ones from malloc).
inline constexpr size_t kMinPooledBytes = size_t{64} << 10;
// Most bytes the pool keeps cached (not in use) at once.
inline constexpr size_t kMaxCachedBytes = size_t{1} << 30;

// Rounds `bytes` up to the size the pool allocates (a whole number of pages).
size_t rounded_size(size_t bytes);

// A buffer of rounded_size(bytes) bytes, page-aligned. `*zeroed` says whether it is known to be all zero (a fresh
// mapping) or holds old data (a recycled buffer). Throws Error(kOutOfMemory) when the OS refuses.
void* acquire(size_t bytes, bool* zeroed);

// Returns a buffer from acquire(bytes) to the pool (or to the OS when the cache is full).
void release(void* data, size_t bytes);

// Gives every cached buffer back to the OS (a Session does this when it is destroyed).
void trim();

// Bytes now cached (not in use), for tests and reports.
size_t cached_bytes();

}  // namespace tessera::buffer_pool
