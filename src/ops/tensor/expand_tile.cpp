// Expand (broadcast to a shape) and Tile (repeat along each axis), both as strided copies with zero strides.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

std::unique_ptr<Kernel> make_expand(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& shape_tensor = ctx.input(1);
    check_argument(shape_tensor.rank() == 1, "Expand: shape must be 1-D, got ", tensor_text(shape_tensor));
    const std::vector<int64_t> shape = read_ints(shape_tensor, "Expand shape");
    for (int64_t d : shape) check_argument(d >= 0, "Expand: shape ", shape_text(shape), " has a negative dim");
    const std::vector<int64_t> out_shape = broadcast_shape(x.shape(), shape);
    if (out_shape == x.shape()) {
      ctx.set_output(0, x);
      return;
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), out_shape);
    if (y.element_count() == 0) return;
    copy_strided_to_contiguous(x.dtype(), y.raw_data(), x.raw_data(), broadcast_strides(x.shape(), out_shape),
                               out_shape, ctx.parallelism());
  });
}

void infer_expand(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  const std::optional<std::vector<int64_t>> shape = constant_ints(ctx, 1);
  if (!shape) {
    const TypeInfo* s = ranked_input(ctx, 1);
    if (s != nullptr && s->shape->size() == 1 && (*s->shape)[0].is_known()) {
      const size_t rank = std::max(x->shape->size(), static_cast<size_t>((*s->shape)[0].value));
      ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, std::vector<Dim>(rank)));
    }
    return;
  }
  std::vector<Dim> target;
  for (int64_t d : *shape) target.push_back(Dim::known(d));
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, broadcast_dims(*x->shape, target)));
}

const RegisterOp kExpand{{.domain = "",
                          .op_type = "Expand",
                          .since_version = 8,
                          .last_version = INT_MAX,
                          .factory = make_expand,
                          .infer = infer_expand}};

// Tiles `x` by `repeats` (one per axis): a broadcast copy of x viewed as [1,d0,1,d1,...] into
// [r0,d0,r1,d1,...], which has the memory layout of the tiled [r0*d0, r1*d1, ...].
Tensor tile(const Tensor& x, const std::vector<int64_t>& repeats, Parallelism& parallelism) {
  check_argument(repeats.size() == x.rank(), "Tile: repeats has ", repeats.size(), " values for input ",
                 tensor_text(x));
  std::vector<int64_t> out_shape(x.rank()), wide_shape, wide_strides;
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  bool identity = true;
  for (size_t i = 0; i < x.rank(); ++i) {
    check_argument(repeats[i] >= 0, "Tile: repeats ", shape_text(repeats), " has a negative value");
    identity &= repeats[i] == 1;
    check_argument(!__builtin_mul_overflow(x.dim(i), repeats[i], &out_shape[i]), "Tile: repeats ", shape_text(repeats),
                   " overflow the shape of ", tensor_text(x));
    wide_shape.insert(wide_shape.end(), {repeats[i], x.dim(i)});
    wide_strides.insert(wide_strides.end(), {0, strides[i]});
  }
  if (identity) return x;
  Tensor y(x.dtype(), out_shape);
  if (y.element_count() == 0) return y;
  copy_strided_to_contiguous(x.dtype(), y.raw_data(), x.raw_data(), wide_strides, wide_shape, parallelism);
  return y;
}

std::unique_ptr<Kernel> make_tile(const KernelInfo& info) {
  if (info.opset < 6) {
    // Tile-1: scalar inputs `tiles` and `axis` repeat the tensor along one axis.
    return make_kernel([](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      const std::vector<int64_t> tiles = read_ints(ctx.input(1), "Tile tiles");
      const std::vector<int64_t> axis = read_ints(ctx.input(2), "Tile axis");
      check_argument(tiles.size() == 1 && axis.size() == 1, "Tile: tiles and axis must be scalars");
      std::vector<int64_t> repeats(x.rank(), 1);
      repeats[static_cast<size_t>(normalize_axis(axis[0], static_cast<int64_t>(x.rank())))] = tiles[0];
      ctx.set_output(0, tile(x, repeats, ctx.parallelism()));
    });
  }
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    ctx.set_output(0, tile(x, read_ints(ctx.input(1), "Tile repeats"), ctx.parallelism()));
  });
}

void infer_tile(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) return;
  std::vector<Dim> out = *x->shape;
  if (ctx.node().opset < 6) {
    const std::optional<std::vector<int64_t>> tiles = constant_ints(ctx, 1);
    const std::optional<std::vector<int64_t>> axis = constant_ints(ctx, 2);
    if (!axis || axis->size() != 1) return;
    const size_t a = static_cast<size_t>(normalize_axis((*axis)[0], static_cast<int64_t>(out.size())));
    out[a] = tiles && tiles->size() == 1 && out[a].is_known() ? Dim::known(out[a].value * (*tiles)[0]) : Dim{};
  } else {
    const std::optional<std::vector<int64_t>> repeats = constant_ints(ctx, 1);
    for (size_t i = 0; i < out.size(); ++i) {
      if (repeats && repeats->size() == out.size()) {
        if ((*repeats)[i] != 1) out[i] = out[i].is_known() ? Dim::known(out[i].value * (*repeats)[i]) : Dim{};
      } else {
        out[i] = Dim{};
      }
    }
  }
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, out));
}

const RegisterOp kTile1{{.domain = "",
                         .op_type = "Tile",
                         .since_version = 1,
                         .last_version = 5,
                         .factory = make_tile,
                         .infer = infer_tile}};
const RegisterOp kTile6{{.domain = "",
                         .op_type = "Tile",
                         .since_version = 6,
                         .last_version = INT_MAX,
                         .factory = make_tile,
                         .infer = infer_tile}};

}  // namespace
}  // namespace tessera
