// Col2Im, opset 18 (the only version): sums column blocks (N, C * prod(block_shape), L) back into images
// (N, C, image_shape...), the inverse layout of im2col with dilations, pads and strides, in any number of
// spatial dimensions. Numeric types accumulate in their own type (float16/bfloat16 in float); bool sums are
// a logical or; strings are not supported.
#include <algorithm>
#include <climits>
#include <complex>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

struct Col2ImAttributes {
  std::vector<int64_t> dilations, pads, strides;  // empty when absent
};

// The geometry of one run, every per-axis vector of the spatial rank.
struct Col2ImGeometry {
  std::vector<int64_t> image, block, dilations, pads_begin, strides, blocks;  // blocks: sliding positions per axis
  int64_t batch = 0, channels = 0, block_size = 1, block_count = 1, image_size = 1;
};

std::vector<int64_t> attribute_or(const std::vector<int64_t>& value, size_t count, int64_t fill, const char* name) {
  if (value.empty()) return std::vector<int64_t>(count, fill);
  check_argument(value.size() == count, "attribute '", name, "' has ", value.size(), " values, expected ", count);
  return value;
}

Col2ImGeometry col2im_geometry(const Tensor& input, const Tensor& image_shape, const Tensor& block_shape,
                               const Col2ImAttributes& a) {
  Col2ImGeometry g;
  check_argument(input.rank() == 3, "input 'input' ", tensor_text(input), " must have shape (N, C * prod(block), L)");
  check_argument(image_shape.dtype() == DType::kInt64 && image_shape.rank() == 1 && image_shape.dim(0) >= 1,
                 "input 'image_shape' ", tensor_text(image_shape), " must be a non-empty 1-D int64 tensor");
  g.image = tensor_to_int64s(image_shape);
  g.block = tensor_to_int64s(block_shape);
  check_argument(block_shape.rank() == 1 && g.block.size() == g.image.size(), "input 'block_shape' ",
                 tensor_text(block_shape), " must be 1-D with as many values as input 'image_shape' ",
                 tensor_text(image_shape));
  const size_t r = g.image.size();
  g.dilations = attribute_or(a.dilations, r, 1, "dilations");
  const std::vector<int64_t> pads = attribute_or(a.pads, 2 * r, 0, "pads");
  g.strides = attribute_or(a.strides, r, 1, "strides");
  for (size_t i = 0; i < r; ++i) {
    check_argument(g.image[i] >= 0 && g.image[i] < kMaxSpatialLength && g.block[i] >= 1 &&
                       g.block[i] <= kMaxWindowAttribute && g.dilations[i] >= 1 && g.strides[i] >= 1 && pads[i] >= 0 &&
                       pads[i + r] >= 0,
                   "Col2Im axis ", i, ": image ", g.image[i], ", block ", g.block[i], ", dilation ", g.dilations[i],
                   ", stride ", g.strides[i], ", pads ", pads[i], "/", pads[i + r],
                   " must be non-negative (block, dilation and stride positive; image below 2^32, block below 2^31)");
    g.pads_begin.push_back(pads[i]);
    const int64_t span = g.dilations[i] * (g.block[i] - 1) + 1;
    const int64_t blocks = (g.image[i] + pads[i] + pads[i + r] - span) / g.strides[i] + 1;
    check_argument(g.image[i] + pads[i] + pads[i + r] >= span && blocks >= 1, "Col2Im axis ", i,
                   ": the dilated block (", span, ") does not fit the padded image (",
                   g.image[i] + pads[i] + pads[i + r], ")");
    g.blocks.push_back(blocks);
    g.block_size *= g.block[i];
    g.block_count *= blocks;
    g.image_size *= g.image[i];
  }
  g.batch = input.dim(0);
  check_argument(input.dim(1) % g.block_size == 0 && input.dim(2) == g.block_count, "input 'input' ",
                 tensor_text(input), " must have shape (N, C * ", g.block_size, ", ", g.block_count,
                 ") for image_shape ", shape_text(g.image), " and block_shape ", shape_text(g.block));
  g.channels = input.dim(1) / g.block_size;
  return g;
}

template <typename T>
using Col2ImAccumulator =
    std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>, float,
                       std::conditional_t<kIsRealElement<T> && !std::is_arithmetic_v<T>, double, T>>;

// Sums one (n, c) plane: every block offset, every sliding position, into `image`.
template <typename T, typename A>
void col2im_plane(const T* columns, const Col2ImGeometry& g, A* image) {
  const size_t r = g.image.size();
  std::vector<int64_t> offset(r, 0), position(r, 0);
  for (int64_t b = 0; b < g.block_size; ++b) {
    std::fill(position.begin(), position.end(), 0);
    const T* row = columns + b * g.block_count;
    for (int64_t l = 0; l < g.block_count; ++l) {
      int64_t target = 0;
      bool inside = true;
      for (size_t i = 0; i < r && inside; ++i) {
        const int64_t p = position[i] * g.strides[i] - g.pads_begin[i] + offset[i] * g.dilations[i];
        inside = p >= 0 && p < g.image[i];
        target = target * g.image[i] + p;
      }
      if (inside) {
        if constexpr (std::is_same_v<A, bool>)
          image[target] = image[target] || row[l];
        else if constexpr (std::is_arithmetic_v<A> && !std::is_arithmetic_v<T>)
          image[target] += static_cast<A>(element_to_double(row[l]));
        else
          image[target] += row[l];
      }
      for (size_t i = r; i-- > 0;) {  // next sliding position, last axis fastest
        if (++position[i] < g.blocks[i]) break;
        position[i] = 0;
      }
    }
    for (size_t i = r; i-- > 0;) {  // next block offset
      if (++offset[i] < g.block[i]) break;
      offset[i] = 0;
    }
  }
}

std::unique_ptr<Kernel> make_col2im(const KernelInfo& info) {
  Col2ImAttributes attrs;
  attrs.dilations = info.node.attr_ints("dilations");
  attrs.pads = info.node.attr_ints("pads");
  attrs.strides = info.node.attr_ints("strides");
  check_window_attribute(info.node, "dilations", attrs.dilations, 1);
  check_window_attribute(info.node, "pads", attrs.pads, 0);
  check_window_attribute(info.node, "strides", attrs.strides, 1);
  return make_kernel([attrs](KernelContext& ctx) {
    const Tensor& input = ctx.input(0);
    const Col2ImGeometry g = col2im_geometry(input, ctx.input(1), ctx.input(2), attrs);
    std::vector<int64_t> out_shape = {g.batch, g.channels};
    out_shape.insert(out_shape.end(), g.image.begin(), g.image.end());
    Tensor& out = ctx.allocate_output(0, input.dtype(), out_shape);
    if (out.element_count() == 0) return;
    visit_dtype(input.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, std::string>) {
        fail(ErrorCode::kUnsupported, "input 'input' ", input.description(), ": strings cannot be summed");
      } else {
        using A = Col2ImAccumulator<T>;
        const T* in = input.data<T>();
        T* dst = out.data<T>();
        ctx.parallelism().parallel_for(g.batch * g.channels, [&](int64_t begin, int64_t end) {
          std::unique_ptr<A[]> image(new A[static_cast<size_t>(g.image_size)]());
          for (int64_t plane = begin; plane < end; ++plane) {
            std::fill(image.get(), image.get() + g.image_size, A{});
            col2im_plane(in + plane * g.block_size * g.block_count, g, image.get());
            T* o = dst + plane * g.image_size;
            for (int64_t i = 0; i < g.image_size; ++i) {
              if constexpr (std::is_same_v<A, T>)
                o[i] = image[i];
              else
                o[i] = element_from_double<T>(static_cast<double>(image[i]));
            }
          }
        });
      }
    });
  });
}

void infer_col2im(InferenceContext& context) {
  const TypeInfo* input = context.input_type(0);
  if (input == nullptr || !input->is_tensor()) return;
  const Tensor* image_shape = context.input_constant(1);
  const Tensor* block_shape = context.input_constant(2);
  if (image_shape == nullptr || image_shape->dtype() != DType::kInt64) {
    context.set_output_type(0, TypeInfo::tensor(input->elem_type));
    return;
  }
  std::vector<Dim> dims = {Dim{}, Dim{}};
  if (input->shape && input->shape->size() == 3) {
    dims[0] = (*input->shape)[0];
    const Dim& cb = (*input->shape)[1];
    if (block_shape != nullptr && block_shape->dtype() == DType::kInt64 && cb.is_known()) {
      int64_t block_size = 1;
      for (int64_t v : tensor_to_int64s(*block_shape)) block_size *= v;
      if (block_size > 0 && cb.value % block_size == 0) dims[1] = Dim::known(cb.value / block_size);
    }
  }
  for (int64_t v : tensor_to_int64s(*image_shape)) dims.push_back(v >= 0 ? Dim::known(v) : Dim{});
  context.set_output_type(0, TypeInfo::tensor(input->elem_type, dims));
}

const RegisterOp kCol2Im{
    {.op_type = "Col2Im", .since_version = 18, .last_version = INT_MAX, .factory = make_col2im, .infer = infer_col2im}};

}  // namespace
}  // namespace tessera
