#include "base/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>

#include "base/error.h"

namespace tessera::buffer_pool {

namespace {

constexpr size_t kPageBytes = 4096;

// One mapping that blocks are cut from.
struct Chunk {
  size_t size = 0;
  size_t in_use = 0;      // bytes of blocks handed out and not yet released
  size_t fresh_from = 0;  // offset from which the mapping has never been handed out (still zero pages)
};

// Free blocks are indexed by address (to merge neighbours) and by size (best fit); a block never spans two
// chunks. All state is guarded by `mutex`.
struct Arena {
  std::mutex mutex;
  std::map<char*, Chunk> chunks;              // chunk base -> chunk
  std::map<char*, size_t> free_by_address;    // free block -> its size
  std::multimap<size_t, char*> free_by_size;  // size -> free block
  size_t free_bytes = 0;
  bool merged = false;  // merge_free_chunks has merged chunks at least once (see acquire's growth)

  std::map<char*, Chunk>::iterator chunk_of(char* p) { return std::prev(chunks.upper_bound(p)); }

  void add_free(char* p, size_t size) {
    free_by_address.emplace(p, size);
    free_by_size.emplace(size, p);
    free_bytes += size;
  }
  void remove_free(char* p, size_t size) {
    free_by_address.erase(p);
    auto range = free_by_size.equal_range(size);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == p) {
        free_by_size.erase(it);
        break;
      }
    }
    free_bytes -= size;
  }
  // Unmaps `chunk`, which must be entirely free (one free block spanning it).
  void unmap_free_chunk(std::map<char*, Chunk>::iterator chunk) {
    remove_free(chunk->first, chunk->second.size);
    ::munmap(chunk->first, chunk->second.size);
    chunks.erase(chunk);
  }
};

Arena& arena() {
  static Arena* instance = new Arena();  // never destroyed: tensors may be freed during static destruction
  return *instance;
}

// Maps a new chunk of `size` bytes and registers it as one free block.
char* map_chunk(Arena& a, size_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return nullptr;
  char* base = static_cast<char*>(data);
  a.chunks.emplace(base, Chunk{size, 0, 0});
  a.add_free(base, size);
  return base;
}

// Once a run has released everything, the chunks it grew one by one are entirely free: they are replaced by
// one chunk of their total size, so the next run's blocks lie in one compact mapping. The chunks' pages are moved
// into it (mremap moves page-table entries, not bytes), so the pages the run faulted in stay faulted in: mapping a
// fresh chunk instead made the next runs fault every page in again (SqueezeNet at batch 8, one thread: 13.7 thousand
// page faults in each of its second and third runs, which took 133-165 ms against 73-93 from the fourth on). The
// moved pages hold old data, so only the last chunk's never-handed-out tail stays known zero.
void merge_free_chunks(Arena& a) {
  size_t total = 0, count = 0;
  for (const auto& [base, chunk] : a.chunks) {
    if (chunk.in_use == 0) {
      total += chunk.size;
      ++count;
    }
  }
  if (count < 2) return;
  void* reserved = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (reserved == MAP_FAILED) return;  // the chunks stay as they are
  char* region = static_cast<char*>(reserved);
  size_t offset = 0, fresh_from = 0;
  for (auto it = a.chunks.begin(); it != a.chunks.end();) {
    auto next = std::next(it);
    if (it->second.in_use == 0) {
      char* base = it->first;
      const Chunk chunk = it->second;
      a.remove_free(base, chunk.size);
      a.chunks.erase(it);
      // On failure the slot keeps the reservation's zero pages and the old chunk goes back to the OS.
      const bool moved =
          ::mremap(base, chunk.size, chunk.size, MREMAP_MAYMOVE | MREMAP_FIXED, region + offset) != MAP_FAILED;
      if (!moved) ::munmap(base, chunk.size);
      fresh_from = offset + (moved ? chunk.fresh_from : 0);
      offset += chunk.size;
    }
    it = next;
  }
  a.chunks.emplace(region, Chunk{total, 0, fresh_from});
  a.add_free(region, total);
  a.merged = true;
}

}  // namespace

size_t rounded_size(size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

void* acquire(size_t bytes, bool* zeroed) {
  const size_t size = rounded_size(bytes);
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mutex);
  auto fit = a.free_by_size.lower_bound(size);
  if (fit == a.free_by_size.end()) {
    // Until chunks were first merged (a model's first run), grow by at least the arena's present size, so that run
    // maps few chunks; after it, by the request alone: a later run that needs a little more (its memory plan's
    // block beside the unplanned tensors) doubled SqueezeNet's batch-8 arena to 120 MB for a 61 MB run, whose pages
    // the runs after it then touched for the first time.
    size_t mapped = 0;
    for (const auto& entry : a.chunks) mapped += entry.second.size;
    const size_t chunk_size = a.merged ? size : std::max(size, rounded_size(mapped));
    if (map_chunk(a, chunk_size) == nullptr && (chunk_size == size || map_chunk(a, size) == nullptr)) {
      fail(ErrorCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for a tensor");
    }
    fit = a.free_by_size.lower_bound(size);
  }
  char* block = fit->second;
  const size_t block_size = fit->first;
  a.remove_free(block, block_size);
  if (block_size > size) a.add_free(block + size, block_size - size);
  const auto owner = a.chunk_of(block);
  Chunk& chunk = owner->second;
  const size_t offset = static_cast<size_t>(block - owner->first);
  *zeroed = offset >= chunk.fresh_from;
  chunk.fresh_from = std::max(chunk.fresh_from, offset + size);
  chunk.in_use += size;
  return block;
}

void release(void* data, size_t bytes) {
  const size_t size = rounded_size(bytes);
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mutex);
  char* block = static_cast<char*>(data);
  auto chunk = a.chunk_of(block);
  chunk->second.in_use -= size;
  char* start = block;
  size_t merged = size;
  // Merge with the free neighbours inside the same chunk.
  auto after = a.free_by_address.find(block + size);
  if (after != a.free_by_address.end() && block + size < chunk->first + chunk->second.size) {
    const size_t after_size = after->second;
    a.remove_free(block + size, after_size);
    merged += after_size;
  }
  auto before = a.free_by_address.lower_bound(block);
  if (before != a.free_by_address.begin() && block > chunk->first) {
    --before;
    if (before->first + before->second == block) {
      char* before_start = before->first;
      const size_t before_size = before->second;
      a.remove_free(before_start, before_size);
      start = before_start;
      merged += before_size;
    }
  }
  a.add_free(start, merged);
  if (chunk->second.in_use == 0) {
    if (a.free_bytes > kMaxCachedBytes) {
      a.unmap_free_chunk(chunk);
    } else {
      merge_free_chunks(a);
    }
  }
}

void trim() {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mutex);
  for (auto it = a.chunks.begin(); it != a.chunks.end();) {
    auto next = std::next(it);
    if (it->second.in_use == 0) a.unmap_free_chunk(it);
    it = next;
  }
}

size_t cached_bytes() {
  Arena& a = arena();
  std::lock_guard<std::mutex> lock(a.mutex);
  return a.free_bytes;
}

}  // namespace tessera::buffer_pool
