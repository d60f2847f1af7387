// TensorScatter (opset 24): a copy of past_cache with `update` written along the sequence axis, starting at
// write_indices[batch] (zero when absent); in "circular" mode the cache positions wrap modulo its length, in
// "linear" mode they must fit. Any element type.
#include <climits>
#include <cstring>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct TensorScatterConfig {
  int64_t axis = -2;
  bool circular = false;
};

TensorScatterConfig parse_tensor_scatter(const Node& node) {
  TensorScatterConfig c;
  c.axis = node.attr_int("axis", -2);
  const std::string mode = node.attr_string("mode", "linear");
  check_model(mode == "linear" || mode == "circular", node.label(), ": mode must be 'linear' or 'circular', got '",
              mode, "'");
  c.circular = mode == "circular";
  return c;
}

// Copies `count` elements from src[src_offset] to dst[dst_offset] (strings by assignment, others by bytes).
void copy_elements(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count) {
  if (src.dtype() == DType::kString) {
    const std::string* s = src.data<std::string>() + src_offset;
    std::string* d = dst.data<std::string>() + dst_offset;
    for (int64_t i = 0; i < count; ++i) d[i] = s[i];
    return;
  }
  const size_t elem = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw_data()) + static_cast<size_t>(dst_offset) * elem,
              static_cast<const char*>(src.raw_data()) + static_cast<size_t>(src_offset) * elem,
              static_cast<size_t>(count) * elem);
}

void compute_tensor_scatter(const TensorScatterConfig& c, KernelContext& ctx) {
  const Tensor& past = ctx.input(0);
  const Tensor& update = ctx.input(1);
  check_argument(past.rank() >= 2, "TensorScatter: past_cache ", tensor_text(past), " must have rank >= 2");
  check_argument(update.dtype() == past.dtype() && update.rank() == past.rank(), "TensorScatter: update ",
                 tensor_text(update), " must have past_cache's dtype and rank (", tensor_text(past), ")");
  const int64_t rank = static_cast<int64_t>(past.rank());
  const size_t axis = static_cast<size_t>(normalize_axis(c.axis, rank));
  check_argument(axis != 0, "TensorScatter: axis ", c.axis, " cannot be the batch dimension");
  for (size_t i = 0; i < past.rank(); ++i) {
    const bool ok = i == axis ? update.dim(i) <= past.dim(i) : update.dim(i) == past.dim(i);
    check_argument(ok, "TensorScatter: update ", tensor_text(update), " does not fit past_cache ", tensor_text(past),
                   " along dimension ", i);
  }
  const int64_t batch = past.dim(0);
  std::vector<int64_t> write(static_cast<size_t>(batch), 0);
  if (ctx.has_input(2)) {
    const Tensor& indices = ctx.input(2);
    check_argument(indices.dtype() == DType::kInt64 && indices.rank() == 1 && indices.dim(0) == batch,
                   "TensorScatter: write_indices ", tensor_text(indices), " must be int64 of shape [", batch, "]");
    write = tensor_to_int64s(indices);
  }
  const int64_t max_len = past.dim(axis), len = update.dim(axis);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t w = write[static_cast<size_t>(b)];
    if (c.circular) {
      check_argument(max_len > 0 || len == 0, "TensorScatter: circular writes into an empty sequence axis of ",
                     tensor_text(past));
    } else {
      check_argument(w >= 0 && w + len <= max_len, "TensorScatter: write_indices[", b, "] = ", w, " plus ", len,
                     " updates overruns the ", max_len, " positions of past_cache ", tensor_text(past));
    }
  }
  Tensor out = past.clone();
  int64_t inner = 1, outer_per_batch = 1;  // elements per sequence position; prefixes per batch entry
  for (size_t i = axis + 1; i < past.rank(); ++i) inner *= past.dim(i);
  for (size_t i = 1; i < axis; ++i) outer_per_batch *= past.dim(i);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t w = write[static_cast<size_t>(b)];
    for (int64_t o = 0; o < outer_per_batch; ++o) {
      const int64_t prefix = b * outer_per_batch + o;
      for (int64_t s = 0; s < len; ++s) {
        int64_t pos = w + s;
        if (c.circular) pos = ((pos % max_len) + max_len) % max_len;
        copy_elements(update, (prefix * len + s) * inner, out, (prefix * max_len + pos) * inner, inner);
      }
    }
  }
  ctx.set_output(0, std::move(out));
}

std::unique_ptr<Kernel> make_tensor_scatter(const KernelInfo& info) {
  const TensorScatterConfig config = parse_tensor_scatter(info.node);
  return make_kernel([config](KernelContext& ctx) { compute_tensor_scatter(config, ctx); });
}

const RegisterOp kTensorScatter{{.op_type = "TensorScatter",
                                 .since_version = 24,
                                 .last_version = INT_MAX,
                                 .factory = make_tensor_scatter,
                                 .infer = infer_same_as_input}};

}  // namespace
}  // namespace tessera
