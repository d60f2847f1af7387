// AffineGrid, opset 20 (the only version): the sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine
// matrices theta (N, 2, 3) or (N, 3, 4) applied to evenly spaced positions in [-1, 1] (pixel centres, or
// corner pixel centres with align_corners). A dimension of size 1 sits at 0, as in PyTorch.
#include <climits>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/image/element_values.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// The normalized position of pixel i of a dimension of `size` pixels.
double base_coordinate(int64_t i, int64_t size, bool align_corners) {
  const auto x = static_cast<double>(i), d = static_cast<double>(size);
  if (align_corners) return size <= 1 ? 0.0 : -1.0 + 2.0 * x / (d - 1);
  return -1.0 + (2.0 * x + 1.0) / d;
}

std::unique_ptr<Kernel> make_affine_grid(const KernelInfo& info) {
  const bool align_corners = info.node.attr_int("align_corners", 0) != 0;
  return make_kernel([align_corners](KernelContext& ctx) {
    const Tensor& theta = ctx.input(0);
    const Tensor& size_tensor = ctx.input(1);
    check_argument(size_tensor.dtype() == DType::kInt64 && size_tensor.rank() == 1 &&
                       (size_tensor.dim(0) == 4 || size_tensor.dim(0) == 5),
                   "input 'size' ", tensor_text(size_tensor),
                   " must be a 1-D int64 tensor (N, C, H, W) or (N, C, D, H, W)");
    const std::vector<int64_t> size = tensor_to_int64s(size_tensor);
    const int64_t r = static_cast<int64_t>(size.size()) - 2;  // 2 or 3 spatial dims
    check_argument(dtype_is_common_float(theta.dtype()) && theta.rank() == 3 && theta.dim(0) == size[0] &&
                       theta.dim(1) == r && theta.dim(2) == r + 1,
                   "input 'theta' ", tensor_text(theta), " must be a float tensor of shape (", size[0], ", ", r, ", ",
                   r + 1, ") for size ", shape_text(size));
    for (int64_t v : size) check_argument(v >= 0, "input 'size' ", shape_text(size), " has a negative dimension");
    std::vector<int64_t> out_shape(size.begin() + 2, size.end());
    out_shape.insert(out_shape.begin(), size[0]);
    out_shape.push_back(r);
    Tensor& grid = ctx.allocate_output(0, theta.dtype(), out_shape);
    if (grid.element_count() == 0) return;
    const std::vector<double> t = tensor_to_doubles(theta, "input 'theta'");
    const int64_t depth = r == 3 ? size[2] : 1, height = size[size.size() - 2], width = size[size.size() - 1];
    std::vector<double> out(static_cast<size_t>(grid.element_count()));
    double* o = out.data();
    for (int64_t n = 0; n < size[0]; ++n) {
      const double* m = &t[static_cast<size_t>(n * r * (r + 1))];
      for (int64_t d = 0; d < depth; ++d) {
        const double z = base_coordinate(d, depth, align_corners);
        for (int64_t h = 0; h < height; ++h) {
          const double y = base_coordinate(h, height, align_corners);
          for (int64_t w = 0; w < width; ++w) {
            const double x = base_coordinate(w, width, align_corners);
            for (int64_t row = 0; row < r; ++row, ++o) {
              const double* c = m + row * (r + 1);
              *o = r == 2 ? c[0] * x + c[1] * y + c[2] : c[0] * x + c[1] * y + c[2] * z + c[3];
            }
          }
        }
      }
    }
    store_doubles(out.data(), grid);
  });
}

void infer_affine_grid(InferenceContext& context) {
  const TypeInfo* theta = context.input_type(0);
  if (theta == nullptr || !theta->is_tensor()) return;
  const Tensor* size = context.input_constant(1);
  if (size == nullptr || size->dtype() != DType::kInt64 || size->rank() != 1 ||
      (size->dim(0) != 4 && size->dim(0) != 5)) {
    context.set_output_type(0, TypeInfo::tensor(theta->elem_type));
    return;
  }
  const std::vector<int64_t> s = tensor_to_int64s(*size);
  for (int64_t v : s)
    check_model(v >= 0, context.node().label(), ": input 'size' ", shape_text(s), " has a negative dimension");
  std::vector<Dim> dims = {Dim::known(s[0])};
  for (size_t i = 2; i < s.size(); ++i) dims.push_back(Dim::known(s[i]));
  dims.push_back(Dim::known(static_cast<int64_t>(s.size()) - 2));
  context.set_output_type(0, TypeInfo::tensor(theta->elem_type, dims));
}

const RegisterOp kAffineGrid{{.op_type = "AffineGrid",
                              .since_version = 20,
                              .last_version = INT_MAX,
                              .factory = make_affine_grid,
                              .infer = infer_affine_grid}};

}  // namespace
}  // namespace tessera
