#include "base/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "base/buffer_pool.h"
#include "base/error.h"
#include "base/small_blocks.h"

namespace tessera {

std::shared_ptr<Storage> Storage::allocate(size_t bytes, bool is_string, size_t count, bool zero_fill) {
  std::shared_ptr<Storage> storage = std::make_shared<Storage>(Private{});
  const size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) return storage;
  if (!is_string && small_blocks::block_bytes(rounded) != 0) {
    void* memory = small_blocks::acquire(rounded);
    if (zero_fill) std::memset(memory, 0, rounded);
    storage->data_ = memory;
    storage->bytes_ = bytes;
    storage->small_bytes_ = rounded;
    return storage;
  }
  if (!is_string && rounded >= buffer_pool::kMinPooledBytes) {
    bool zeroed = false;
    void* memory = buffer_pool::acquire(rounded, &zeroed);
    // Fresh pages are already zero; a recycled buffer is cleared to keep the zero-filled contract.
    if (!zeroed && zero_fill) std::memset(memory, 0, rounded);
    storage->data_ = memory;
    storage->bytes_ = bytes;
    storage->pooled_bytes_ = rounded;
    return storage;
  }
  void* memory = std::aligned_alloc(64, rounded);
  if (memory == nullptr) fail(ErrorCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for a tensor");
  if (is_string) {
    auto* strings = static_cast<std::string*>(memory);
    for (size_t i = 0; i < count; ++i) new (strings + i) std::string();
    storage->string_count_ = count;
  } else if (zero_fill) {
    std::memset(memory, 0, rounded);
  }
  storage->data_ = memory;
  storage->bytes_ = bytes;
  storage->owned_ = true;
  return storage;
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t bytes, std::shared_ptr<void> keeper) {
  std::shared_ptr<Storage> storage = std::make_shared<Storage>(Private{});
  storage->data_ = data;
  storage->bytes_ = bytes;
  storage->keeper_ = std::move(keeper);
  return storage;
}

std::shared_ptr<Storage> Storage::part_of(void* data, size_t bytes, std::shared_ptr<void> block) {
  std::shared_ptr<Storage> storage = borrow(data, bytes, std::move(block));
  storage->part_of_block_ = true;
  return storage;
}

Storage::~Storage() {
  if (small_bytes_ != 0) {
    small_blocks::release(data_, small_bytes_);
    return;
  }
  if (pooled_bytes_ != 0) {
    buffer_pool::release(data_, pooled_bytes_);
    return;
  }
  if (!owned_) return;
  auto* strings = static_cast<std::string*>(data_);
  for (size_t i = 0; i < string_count_; ++i) strings[i].~basic_string();
  std::free(data_);
}

int64_t shape_element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "shape ", shape_to_string(shape), " has a negative dimension");
    if (d != 0 && count > INT64_MAX / d) {
      fail(ErrorCode::kInvalidModel, "shape ", shape_to_string(shape), " has more elements than int64 can count");
    }
    count *= d;
  }
  return count;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

namespace {

// The byte size of a new tensor, refusing negative dims, overflow and sizes past kMaxTensorBytes.
int64_t checked_element_count(DType dtype, const std::vector<int64_t>& shape) {
  const int64_t count = shape_element_count(shape);
  const uint64_t element_size = dtype_size(dtype);
  if (element_size != 0 && static_cast<uint64_t>(count) > kMaxTensorBytes / element_size) {
    fail(ErrorCode::kOutOfMemory, "tensor ", dtype_name(dtype), shape_to_string(shape), " would need ",
         static_cast<double>(count) * static_cast<double>(element_size) / (1u << 30),
         " GiB, more than Tessera allocates");
  }
  return count;
}

}  // namespace

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  element_count_ = checked_element_count(dtype_, shape_);
  storage_ = Storage::allocate(byte_size(), dtype_ == DType::kString, static_cast<size_t>(element_count_));
}

Tensor Tensor::uninitialized(DType dtype, std::vector<int64_t> shape) {
  const int64_t count = checked_element_count(dtype, shape);
  const size_t bytes = static_cast<size_t>(count) * dtype_size(dtype);
  return Tensor(dtype, std::move(shape),
                Storage::allocate(bytes, dtype == DType::kString, static_cast<size_t>(count), /*zero_fill=*/false));
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape, std::shared_ptr<Storage> storage, size_t offset)
    : dtype_(dtype), shape_(std::move(shape)), storage_(std::move(storage)), offset_(offset) {
  element_count_ = shape_element_count(shape_);
  if (storage_ == nullptr || offset_ + byte_size() > storage_->bytes()) {
    fail(ErrorCode::kInvalidModel, "tensor ", description(), " does not fit in its storage");
  }
}

void* Tensor::raw_data() const {
  if (!storage_ || storage_->data() == nullptr) return nullptr;
  return static_cast<char*>(storage_->data()) + offset_;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  Tensor view = *this;
  const int64_t count = shape_element_count(shape);
  if (count != element_count_) {
    fail(ErrorCode::kInvalidArgument, "cannot view ", description(), " as shape ", shape_to_string(shape));
  }
  view.shape_ = std::move(shape);
  return view;
}

Tensor Tensor::clone() const {
  Tensor copy(dtype_, shape_);
  if (dtype_ == DType::kString) {
    for (int64_t i = 0; i < element_count_; ++i) copy.data<std::string>()[i] = data<std::string>()[i];
  } else if (byte_size() > 0) {
    std::memcpy(copy.raw_data(), raw_data(), byte_size());
  }
  return copy;
}

std::string Tensor::description() const { return dtype_name(dtype_) + shape_to_string(shape_); }

}  // namespace tessera
