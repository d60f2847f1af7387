// Tensor: a dense array of one DType with a concrete shape, holding owned or borrowed memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace tessera {

// Memory behind a Tensor. Owned storage is 64-byte aligned and zero-filled; borrowed storage points into
// memory kept alive by `keeper` (an mmap of external data, say). String tensors own std::string objects.
class Storage {
 public:
  // Allocates `bytes` of zeroed memory (or `count` empty strings when `is_string`); with `zero_fill` false,
  // non-string memory is left as it was (the caller writes every byte).
  static std::shared_ptr<Storage> allocate(size_t bytes, bool is_string, size_t count, bool zero_fill = true);
  // Wraps memory that `keeper` keeps alive; the memory must stay valid and unchanged while it lives.
  static std::shared_ptr<Storage> borrow(void* data, size_t bytes, std::shared_ptr<void> keeper);
  // Memory Tessera owns inside a larger block that `block` keeps alive (a run's memory-plan arena): owned() like
  // memory allocated for it (a kernel may write over it in place), given back with the block, not by itself.
  static std::shared_ptr<Storage> part_of(void* data, size_t bytes, std::shared_ptr<void> block);

  // Only for the factories above (make_shared needs a public constructor; Private keeps it theirs).
  struct Private {};
  explicit Storage(Private) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // True for memory Tessera allocated (from the buffer pool or the heap), not borrowed from a caller or a mapping.
  bool owned() const { return owned_ || pooled_bytes_ != 0 || small_bytes_ != 0 || part_of_block_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t string_count_ = 0;  // > 0 when data_ holds constructed std::string objects
  bool owned_ = false;
  size_t pooled_bytes_ = 0;  // > 0 when data_ came from buffer_pool::acquire of that many bytes
  size_t small_bytes_ = 0;   // > 0 when data_ came from small_blocks::acquire of that many bytes
  bool part_of_block_ = false;  // see part_of: keeper_ holds the block
  std::shared_ptr<void> keeper_;
};

// Largest tensor Tessera will allocate, in bytes (refused with kOutOfMemory before any allocation).
inline constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 38;  // 256 GiB

// Number of elements of `shape`; throws Error(kInvalidModel) on a negative dimension or int64 overflow.
int64_t shape_element_count(const std::vector<int64_t>& shape);

// "[2,3,4]" style rendering of a shape.
std::string shape_to_string(const std::vector<int64_t>& shape);

class Tensor {
 public:
  // An empty, undefined tensor (dtype kUndefined); `defined()` is false.
  Tensor() = default;
  // Allocates a zero-filled tensor; refuses negative dims, overflow and sizes past kMaxTensorBytes.
  Tensor(DType dtype, std::vector<int64_t> shape);
  // A tensor whose memory is not cleared (strings are still constructed empty): for outputs the caller
  // overwrites whole. Same checks as the zero-filling constructor.
  static Tensor uninitialized(DType dtype, std::vector<int64_t> shape);
  // Shares `storage` (which must hold at least the tensor's bytes) starting at byte `offset`.
  Tensor(DType dtype, std::vector<int64_t> shape, std::shared_ptr<Storage> storage, size_t offset = 0);

  // A scalar (rank 0) tensor holding `value`.
  template <typename T>
  static Tensor scalar(DType dtype, T value) {
    Tensor t(dtype, {});
    *t.data<T>() = value;
    return t;
  }
  // A 1-D tensor copied from `values`.
  template <typename T>
  static Tensor from_vector(DType dtype, const std::vector<T>& values) {
    Tensor t(dtype, {static_cast<int64_t>(values.size())});
    for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
    return t;
  }

  bool defined() const { return dtype_ != DType::kUndefined; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  int64_t dim(size_t axis) const { return shape_[axis]; }
  int64_t element_count() const { return element_count_; }
  size_t byte_size() const { return static_cast<size_t>(element_count_) * dtype_size(dtype_); }

  // Typed access; T must match the dtype's storage type (see dtype_dispatch.h). Not checked.
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(raw_data());
  }
  void* raw_data() const;

  // The same memory viewed with another shape of the same element count.
  Tensor reshaped(std::vector<int64_t> shape) const;
  // A deep copy that owns its memory.
  Tensor clone() const;
  // True when the storage is shared with another Tensor or borrowed.
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // "float[2,3]" style description.
  std::string description() const;

 private:
  DType dtype_ = DType::kUndefined;
  std::vector<int64_t> shape_;
  int64_t element_count_ = 0;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
};

}  // namespace tessera
