// Gather, GatherElements and GatherND: indexed reads. Indices are validated (negative ones wrap) before any
// copy; Gather and GatherND copy whole contiguous blocks per index.
#include <algorithm>
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

// Copies blocks of `inner` elements: dst block i = src block at element offset offsets[i].
template <typename U>
void copy_blocks(U* dst, const U* src, const std::vector<int64_t>& offsets, int64_t inner, Parallelism& parallelism) {
  parallel_over(parallelism, static_cast<int64_t>(offsets.size()), inner * static_cast<int64_t>(sizeof(U)),
                [&](int64_t begin, int64_t end) {
                  if (inner == 1) {
                    for (int64_t i = begin; i < end; ++i) dst[i] = src[offsets[static_cast<size_t>(i)]];
                    return;
                  }
                  for (int64_t i = begin; i < end; ++i) {
                    std::copy_n(src + offsets[static_cast<size_t>(i)], inner, dst + i * inner);
                  }
                });
}

void gather_blocks(const Tensor& data, Tensor& out, const std::vector<int64_t>& offsets, int64_t inner,
                   Parallelism& parallelism) {
  if (out.element_count() == 0) return;
  visit_element_bytes(data.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    copy_blocks(out.data<U>(), data.data<U>(), offsets, inner, parallelism);
  });
}

std::unique_ptr<Kernel> make_gather(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    check_argument(data.rank() >= 1, "Gather: data must have rank >= 1, got ", tensor_text(data));
    const size_t axis = static_cast<size_t>(normalize_axis(axis_attr, static_cast<int64_t>(data.rank())));
    std::vector<int64_t> idx = read_ints(indices, "Gather indices");
    const int64_t dim = data.dim(axis);
    for (int64_t& i : idx) i = wrap_index(i, dim, "Gather");
    std::vector<int64_t> out_shape(data.shape().begin(), data.shape().begin() + axis);
    out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
    out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
    Tensor& y = ctx.allocate_output(0, data.dtype(), out_shape);
    if (y.element_count() == 0) return;
    const int64_t outer = product(data.shape(), 0, axis);
    const int64_t inner = product(data.shape(), axis + 1, data.rank());
    std::vector<int64_t> offsets;
    offsets.reserve(static_cast<size_t>(outer) * idx.size());
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i : idx) offsets.push_back((o * dim + i) * inner);
    }
    gather_blocks(data, y, offsets, inner, ctx.parallelism());
  });
}

void infer_gather(InferenceContext& ctx) {
  const TypeInfo* data = ranked_input(ctx, 0);
  const TypeInfo* indices = ranked_input(ctx, 1);
  if (data == nullptr || indices == nullptr || data->shape->empty()) return;
  const size_t axis =
      static_cast<size_t>(normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(data->shape->size())));
  std::vector<Dim> out(data->shape->begin(), data->shape->begin() + axis);
  out.insert(out.end(), indices->shape->begin(), indices->shape->end());
  out.insert(out.end(), data->shape->begin() + axis + 1, data->shape->end());
  ctx.set_output_type(0, TypeInfo::tensor(data->elem_type, out));
}

const RegisterOp kGather{{.domain = "",
                          .op_type = "Gather",
                          .since_version = 1,
                          .last_version = INT_MAX,
                          .factory = make_gather,
                          .infer = infer_gather}};

std::unique_ptr<Kernel> make_gather_elements(const KernelInfo& info) {
  const int64_t axis_attr = info.node.attr_int("axis", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    check_argument(data.rank() >= 1, "GatherElements: data must have rank >= 1, got ", tensor_text(data));
    const size_t axis = static_cast<size_t>(normalize_axis(axis_attr, static_cast<int64_t>(data.rank())));
    const std::vector<int64_t> offsets = element_offsets(
        data.shape(), indices.shape(), read_ints(indices, "GatherElements indices"), axis, "GatherElements");
    Tensor& y = ctx.allocate_output(0, data.dtype(), indices.shape());
    gather_blocks(data, y, offsets, 1, ctx.parallelism());
  });
}

void infer_gather_elements(InferenceContext& ctx) {
  const TypeInfo* data = ctx.input_type(0);
  const TypeInfo* indices = ctx.input_type(1);
  if (data == nullptr || indices == nullptr || !data->is_tensor() || !indices->is_tensor()) return;
  ctx.set_output_type(0, TypeInfo::tensor(data->elem_type, indices->shape));
}

const RegisterOp kGatherElements{{.domain = "",
                                  .op_type = "GatherElements",
                                  .since_version = 11,
                                  .last_version = INT_MAX,
                                  .factory = make_gather_elements,
                                  .infer = infer_gather_elements}};

std::unique_ptr<Kernel> make_gather_nd(const KernelInfo& info) {
  const int64_t batch_dims = info.opset >= 12 ? info.node.attr_int("batch_dims", 0) : 0;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const int64_t r = static_cast<int64_t>(data.rank());
    const int64_t q = static_cast<int64_t>(indices.rank());
    check_argument(r >= 1 && q >= 1, "GatherND: data ", tensor_text(data), " and indices ", tensor_text(indices),
                   " must have rank >= 1");
    check_argument(batch_dims >= 0 && batch_dims < std::min(r, q), "GatherND: batch_dims ", batch_dims,
                   " must be less than the ranks of data ", tensor_text(data), " and indices ", tensor_text(indices));
    const size_t b = static_cast<size_t>(batch_dims);
    for (size_t d = 0; d < b; ++d) {
      check_argument(data.dim(d) == indices.dim(d), "GatherND: batch dimension ", d, " differs between data ",
                     tensor_text(data), " and indices ", tensor_text(indices));
    }
    const int64_t k = indices.dim(static_cast<size_t>(q - 1));
    check_argument(k >= 1 && k <= r - batch_dims, "GatherND: last dimension of indices ", tensor_text(indices),
                   " must be in [1, ", r - batch_dims, "]");
    std::vector<int64_t> out_shape(indices.shape().begin(), indices.shape().end() - 1);
    out_shape.insert(out_shape.end(), data.shape().begin() + b + static_cast<size_t>(k), data.shape().end());
    const std::vector<int64_t> idx = read_ints(indices, "GatherND indices");
    const std::vector<int64_t> strides = contiguous_strides(data.shape());
    const int64_t batches = product(data.shape(), 0, b);
    const int64_t batch_stride = product(data.shape(), b, data.rank());
    const int64_t tuples = static_cast<int64_t>(idx.size()) / k;
    const int64_t per_batch = tuples / std::max<int64_t>(batches, 1);
    std::vector<int64_t> offsets(static_cast<size_t>(tuples));
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t offset = (t / std::max<int64_t>(per_batch, 1)) * batch_stride;
      for (int64_t j = 0; j < k; ++j) {
        const size_t axis = b + static_cast<size_t>(j);
        offset += wrap_index(idx[static_cast<size_t>(t * k + j)], data.dim(axis), "GatherND") * strides[axis];
      }
      offsets[static_cast<size_t>(t)] = offset;
    }
    Tensor& y = ctx.allocate_output(0, data.dtype(), out_shape);
    gather_blocks(data, y, offsets, product(data.shape(), b + static_cast<size_t>(k), data.rank()), ctx.parallelism());
  });
}

void infer_gather_nd(InferenceContext& ctx) {
  const TypeInfo* data = ranked_input(ctx, 0);
  const TypeInfo* indices = ranked_input(ctx, 1);
  if (data == nullptr || indices == nullptr || indices->shape->empty()) return;
  const Dim& k = indices->shape->back();
  const size_t b = static_cast<size_t>(ctx.node().attr_int("batch_dims", 0));
  if (!k.is_known() || b + static_cast<size_t>(k.value) > data->shape->size()) return;
  std::vector<Dim> out(indices->shape->begin(), indices->shape->end() - 1);
  out.insert(out.end(), data->shape->begin() + b + static_cast<size_t>(k.value), data->shape->end());
  ctx.set_output_type(0, TypeInfo::tensor(data->elem_type, out));
}

const RegisterOp kGatherND11{{.domain = "",
                              .op_type = "GatherND",
                              .since_version = 11,
                              .last_version = 11,
                              .factory = make_gather_nd,
                              .infer = infer_gather_nd}};
const RegisterOp kGatherND12{{.domain = "",
                              .op_type = "GatherND",
                              .since_version = 12,
                              .last_version = INT_MAX,
                              .factory = make_gather_nd,
                              .infer = infer_gather_nd}};

}  // namespace
}  // namespace tessera
