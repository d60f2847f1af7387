// BufferPool: the arena behind large tensors, so a model run at a steady shape does not map, fault in, zero and
// unmap its intermediates again on every run (that churn cost ~20% of BERT-base and ResNet-50 latency before the
// pool existed), and so its intermediates stay few and hot in cache.
//
// Buffers are cut from a few large mappings (chunks) by best fit, split off free blocks and merged with their free
// neighbours when released (as a BFC arena does). A layer's output therefore reuses the memory that the layers just
// before it released, still in cache, instead of a buffer of its own size last touched a whole run ago: with one
// cached buffer per distinct size, MobileNetV2's 4.8 MB expansion outputs came cold from DRAM every run (the
// layer ran 1.7x slower inside the model than alone). Chunks grow by at least the arena's size; once all of a
// run's blocks are released, the entirely free chunks are merged into one mapping, their pages moved into it (not
// faulted in again on the next run); after that first merge the arena grows by requests alone. Free bytes are
// bounded (kMaxCachedBytes): past it, a chunk that becomes entirely free goes back to the OS. One arena serves the
// process; it is thread-safe.
#pragma once

#include <cstddef>

namespace tessera::buffer_pool {

// Buffers from this size on come from the arena (smaller ones from malloc).
inline constexpr size_t kMinPooledBytes = size_t{64} << 10;
// Most bytes the pool keeps cached (not in use) at once.
inline constexpr size_t kMaxCachedBytes = size_t{1} << 30;

// Rounds `bytes` up to the size the pool allocates (a whole number of pages).
size_t rounded_size(size_t bytes);

// A buffer of rounded_size(bytes) bytes, page-aligned. `*zeroed` says whether it is known to be all zero (memory
// of a mapping never handed out before) or may hold old data. Throws Error(kOutOfMemory) when the OS refuses.
void* acquire(size_t bytes, bool* zeroed);

// Returns a buffer from acquire(bytes) (the same `bytes`) to the arena.
void release(void* data, size_t bytes);

// Gives every entirely free chunk back to the OS (a Session does this when it is created and destroyed).
void trim();

// Bytes now mapped but free, for tests and reports.
size_t cached_bytes();

}  // namespace tessera::buffer_pool
