#include "base/buffer_pool.h"

#include <sys/mman.h>

#include <map>
#include <mutex>

#include "base/error.h"

namespace tessera::buffer_pool {

namespace {

constexpr size_t kPageBytes = 4096;

struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_buffers;  // rounded size -> buffer
  size_t cached = 0;
};

Cache& cache() {
  static Cache* instance = new Cache();  // never destroyed: tensors may be freed during static destruction
  return *instance;
}

}  // namespace

size_t rounded_size(size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes * kPageBytes; }

void* acquire(size_t bytes, bool* zeroed) {
  const size_t size = rounded_size(bytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_buffers.find(size);
    if (it != c.free_buffers.end()) {
      void* data = it->second;
      c.free_buffers.erase(it);
      c.cached -= size;
      *zeroed = false;
      return data;
    }
  }
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) fail(ErrorCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for a tensor");
  *zeroed = true;
  return data;
}

void release(void* data, size_t bytes) {
  const size_t size = rounded_size(bytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.cached + size <= kMaxCachedBytes) {
      c.free_buffers.emplace(size, data);
      c.cached += size;
      return;
    }
  }
  ::munmap(data, size);
}

void trim() {
  std::multimap<size_t, void*> buffers;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    buffers.swap(c.free_buffers);
    c.cached = 0;
  }
  for (const auto& [size, data] : buffers) ::munmap(data, size);
}

size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.cached;
}

}  // namespace tessera::buffer_pool
