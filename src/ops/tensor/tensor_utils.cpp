#include "ops/tensor/tensor_utils.h"

#include <algorithm>
#include <complex>
#include <cstring>
#include <type_traits>

#include "base/lazy_text.h"
#include "kernels/x32-transpose/x32-transpose.h"
#include "ops/common/op_utils.h"

namespace tessera::tensor_ops {

namespace {

// Below this many bytes a copy runs on the caller: waking the pool costs more than it saves.
constexpr int64_t kParallelBytes = int64_t{1} << 17;
// Edge of the square tiles in which transposed planes are copied (in elements).
constexpr int64_t kTile = 16;

// A strided copy reduced to its simplest equivalent form.
struct Layout {
  std::vector<int64_t> shape;
  std::vector<int64_t> src;
  std::vector<int64_t> dst;
};

// Drops size-1 dims and merges neighbours that are contiguous in both src and dst.
Layout coalesce(const std::vector<int64_t>& shape, const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
  Layout out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!out.shape.empty()) {
      const size_t last = out.shape.size() - 1;
      if (out.src[last] == src[i] * shape[i] && out.dst[last] == dst[i] * shape[i]) {
        out.shape[last] *= shape[i];
        out.src[last] = src[i];
        out.dst[last] = dst[i];
        continue;
      }
    }
    out.shape.push_back(shape[i]);
    out.src.push_back(src[i]);
    out.dst.push_back(dst[i]);
  }
  return out;
}

// Walks a row-major index space, keeping the matching element offsets into src and dst.
class OffsetWalker {
 public:
  OffsetWalker(std::vector<int64_t> shape, std::vector<int64_t> src, std::vector<int64_t> dst)
      : shape_(std::move(shape)), src_(std::move(src)), dst_(std::move(dst)), index_(shape_.size(), 0) {}

  void seek(int64_t flat) {
    src_offset = 0;
    dst_offset = 0;
    for (size_t i = shape_.size(); i-- > 0;) {
      index_[i] = flat % shape_[i];
      flat /= shape_[i];
      src_offset += index_[i] * src_[i];
      dst_offset += index_[i] * dst_[i];
    }
  }
  void next() {
    for (size_t i = shape_.size(); i-- > 0;) {
      ++index_[i];
      src_offset += src_[i];
      dst_offset += dst_[i];
      if (index_[i] < shape_[i]) return;
      src_offset -= src_[i] * shape_[i];
      dst_offset -= dst_[i] * shape_[i];
      index_[i] = 0;
    }
  }

  int64_t src_offset = 0;
  int64_t dst_offset = 0;

 private:
  std::vector<int64_t> shape_, src_, dst_;
  std::vector<int64_t> index_;
};

template <typename U>
void copy_rows(U* dst, const U* src, const Layout& l, Parallelism& parallelism) {
  const size_t last = l.shape.size() - 1;
  const int64_t inner = l.shape[last];
  const int64_t ss = l.src[last];
  const int64_t ds = l.dst[last];
  const std::vector<int64_t> outer(l.shape.begin(), l.shape.begin() + last);
  const int64_t rows = product(l.shape, 0, last);
  parallel_over(parallelism, rows, inner * static_cast<int64_t>(sizeof(U)), [&](int64_t begin, int64_t end) {
    OffsetWalker walker(outer, {l.src.begin(), l.src.begin() + last}, {l.dst.begin(), l.dst.begin() + last});
    walker.seek(begin);
    for (int64_t row = begin; row < end; ++row, walker.next()) {
      const U* s = src + walker.src_offset;
      U* d = dst + walker.dst_offset;
      if (ss == 1 && ds == 1) {
        std::copy_n(s, inner, d);
      } else if (ss == 0 && ds == 1) {
        std::fill_n(d, inner, *s);
      } else {
        for (int64_t j = 0; j < inner; ++j) d[j * ds] = s[j * ss];
      }
    }
  });
}

// Copies when the innermost dim is contiguous in dst but strided in src while another dim `k` is contiguous
// in src (a transposed plane): square tiles keep both sides in cache. 4-byte elements go through the
// x32-transpose kernel (register transposes): the split is still by tiles of kTile plane rows, but each thread's
// consecutive tiles of one plane make one kernel call.
template <typename U>
void copy_tiled(U* dst, const U* src, const Layout& l, size_t k, Parallelism& parallelism) {
  const size_t last = l.shape.size() - 1;
  const int64_t rows = l.shape[k];
  const int64_t cols = l.shape[last];
  const int64_t dst_row_stride = l.dst[k];
  const int64_t src_col_stride = l.src[last];
  std::vector<int64_t> outer, outer_src, outer_dst;
  for (size_t i = 0; i < last; ++i) {
    if (i == k) continue;
    outer.push_back(l.shape[i]);
    outer_src.push_back(l.src[i]);
    outer_dst.push_back(l.dst[i]);
  }
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  const int64_t work = product(outer, 0, outer.size()) * row_tiles;
  parallel_over(parallelism, work, kTile * cols * static_cast<int64_t>(sizeof(U)), [&](int64_t begin, int64_t end) {
    OffsetWalker walker(outer, outer_src, outer_dst);
    if constexpr (std::is_same_v<U, uint32_t>) {
      // The range's tiles of one plane, rows r0..r1, are columns of src: one register-tiled transpose of the
      // cols x (r1 - r0) block per plane the range touches.
      for (int64_t item = begin; item < end;) {
        const int64_t o = item / row_tiles;
        const int64_t stop = std::min(end, (o + 1) * row_tiles);
        walker.seek(o);
        const int64_t r0 = (item - o * row_tiles) * kTile;
        const int64_t r1 = std::min(rows, (stop - o * row_tiles) * kTile);
        transpose_x32(src + walker.src_offset + r0, src_col_stride, dst + walker.dst_offset + r0 * dst_row_stride,
                      dst_row_stride, cols, r1 - r0);
        item = stop;
      }
    } else {
      int64_t current = -1;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t o = item / row_tiles;
        if (o != current) {
          walker.seek(o);
          current = o;
        }
        const int64_t r0 = (item % row_tiles) * kTile;
        const int64_t r1 = std::min(rows, r0 + kTile);
        const U* s_base = src + walker.src_offset;
        U* d_base = dst + walker.dst_offset;
        for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
          const int64_t c1 = std::min(cols, c0 + kTile);
          for (int64_t r = r0; r < r1; ++r) {
            U* d = d_base + r * dst_row_stride;
            const U* s = s_base + r;
            for (int64_t c = c0; c < c1; ++c) d[c] = s[c * src_col_stride];
          }
        }
      }
    }
  });
}

template <typename U>
void copy_strided_typed(U* dst, const U* src, const Layout& l, Parallelism& parallelism) {
  if (l.shape.empty()) {
    *dst = *src;
    return;
  }
  const size_t last = l.shape.size() - 1;
  if (l.dst[last] == 1 && l.src[last] != 1 && l.shape[last] >= 4) {
    for (size_t k = 0; k < last; ++k) {
      if (l.src[k] == 1 && l.shape[k] >= 4) return copy_tiled(dst, src, l, k, parallelism);
    }
  }
  copy_rows(dst, src, l, parallelism);
}

}  // namespace

int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) p *= shape[i];
  return p;
}

void parallel_over(Parallelism& parallelism, int64_t count, int64_t bytes_per_item,
                   const std::function<void(int64_t, int64_t)>& fn) {
  if (count <= 0) return;
  if (count > 1 && parallelism.thread_count() > 1 && count * std::max<int64_t>(bytes_per_item, 1) >= kParallelBytes) {
    parallelism.parallel_for(count, fn);
  } else {
    fn(0, count);
  }
}

void copy_elements(DType dtype, void* dst, const void* src, int64_t count) {
  if (count <= 0) return;
  if (dtype == DType::kString) {
    std::copy_n(static_cast<const std::string*>(src), count, static_cast<std::string*>(dst));
  } else {
    std::memcpy(dst, src, static_cast<size_t>(count) * dtype_size(dtype));
  }
}

void copy_strided(DType dtype, void* dst, const std::vector<int64_t>& dst_strides, const void* src,
                  const std::vector<int64_t>& src_strides, const std::vector<int64_t>& shape,
                  Parallelism& parallelism) {
  for (int64_t d : shape) {
    if (d <= 0) return;
  }
  const Layout layout = coalesce(shape, src_strides, dst_strides);
  visit_element_bytes(dtype, [&](auto tag) {
    using U = typename decltype(tag)::type;
    copy_strided_typed(static_cast<U*>(dst), static_cast<const U*>(src), layout, parallelism);
  });
}

void copy_strided_to_contiguous(DType dtype, void* dst, const void* src, const std::vector<int64_t>& src_strides,
                                const std::vector<int64_t>& shape, Parallelism& parallelism) {
  copy_strided(dtype, dst, contiguous_strides(shape), src, src_strides, shape, parallelism);
}

std::vector<int64_t> element_offsets(const std::vector<int64_t>& data_shape, const std::vector<int64_t>& index_shape,
                                     const std::vector<int64_t>& idx, size_t axis, const char* op) {
  check_argument(index_shape.size() == data_shape.size(), op, ": indices of shape ", shape_text(index_shape),
                 " must have the rank of data ", shape_text(data_shape));
  for (size_t d = 0; d < data_shape.size(); ++d) {
    check_argument(d == axis || index_shape[d] <= data_shape[d], op, ": indices of shape ", shape_text(index_shape),
                   " exceed data of shape ", shape_text(data_shape), " on axis ", d);
  }
  const std::vector<int64_t> strides = contiguous_strides(data_shape);
  const int64_t dim = data_shape[axis];
  std::vector<int64_t> offsets(idx.size());
  std::vector<int64_t> coord(index_shape.size(), 0);
  int64_t base = 0;  // offset of the current coordinate without the axis component
  for (size_t n = 0; n < idx.size(); ++n) {
    offsets[n] = base + wrap_index(idx[n], dim, op) * strides[axis];
    for (size_t d = index_shape.size(); d-- > 0;) {
      ++coord[d];
      if (d != axis) base += strides[d];
      if (coord[d] < index_shape[d]) break;
      if (d != axis) base -= strides[d] * coord[d];
      coord[d] = 0;
    }
  }
  return offsets;
}

std::vector<int64_t> read_ints(const Tensor& tensor, const char* what) {
  if (tensor.dtype() != DType::kInt64 && tensor.dtype() != DType::kInt32) {
    fail(ErrorCode::kInvalidArgument, what, " must be an int32 or int64 tensor, got ", tensor.description());
  }
  return tensor_to_int64s(tensor);
}

std::vector<int64_t> read_indices(const Tensor& tensor, const char* what) {
  std::vector<int64_t> out(static_cast<size_t>(tensor.element_count()));
  visit_dtype(tensor.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* data = tensor.data<T>();
    if constexpr (std::is_integral_v<T>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(data[i]);
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                         std::is_same_v<T, std::complex<double>>) {
      fail(ErrorCode::kInvalidArgument, what, " must be a numeric tensor, got ", tensor.description());
    } else {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(element_to_double(data[i]));
    }
  });
  return out;
}

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t axis : axes) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      fail(ErrorCode::kInvalidArgument, what, " axis ", axis, " is out of range for rank ", rank);
    }
    if (std::find(out.begin(), out.end(), a) != out.end()) {
      fail(ErrorCode::kInvalidArgument, what, " axis ", axis, " is repeated");
    }
    out.push_back(a);
  }
  return out;
}

std::vector<Dim> dims_of(const std::vector<int64_t>& shape) {
  std::vector<Dim> dims;
  dims.reserve(shape.size());
  for (int64_t d : shape) dims.push_back(Dim::known(d));
  return dims;
}

const TypeInfo* ranked_input(const InferenceContext& context, size_t i) {
  const TypeInfo* t = context.input_type(i);
  if (t == nullptr || !t->is_tensor() || !t->shape) return nullptr;
  return t;
}

std::optional<std::vector<int64_t>> constant_ints(const InferenceContext& context, size_t i) {
  if (i >= context.node().inputs.size() || context.node().inputs[i].empty()) return std::nullopt;
  const Tensor* t = context.input_constant(i);
  if (t == nullptr || (t->dtype() != DType::kInt64 && t->dtype() != DType::kInt32)) return std::nullopt;
  return tensor_to_int64s(*t);
}

}  // namespace tessera::tensor_ops
