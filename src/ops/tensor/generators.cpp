// Operators that produce tensors from shapes or attributes: Shape, Size, Constant, ConstantOfShape, Range,
// EyeLike.
#include <algorithm>
#include <climits>
#include <cmath>
#include <complex>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"
#include "ops/tensor/tensor_utils.h"

namespace tessera {
namespace {

using namespace tensor_ops;

// Shape's [start, end) over `rank` axes after the clamping of Shape-15.
std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t opset, int64_t rank) {
  if (opset < 15) return {0, rank};
  auto clamp = [rank](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  const int64_t start = clamp(node.attr_int("start", 0));
  const int64_t end = node.has_attribute("end") ? clamp(node.attr_int("end", rank)) : rank;
  return {start, std::max(start, end)};
}

std::unique_ptr<Kernel> make_shape(const KernelInfo& info) {
  const Node& node = info.node;
  const int64_t opset = info.opset;
  const bool sliced = opset >= 15 && (node.has_attribute("start") || node.has_attribute("end"));
  const int64_t start_attr = node.attr_int("start", 0);
  const bool has_end = node.has_attribute("end");
  const int64_t end_attr = node.attr_int("end", 0);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t rank = static_cast<int64_t>(x.rank());
    int64_t start = 0, end = rank;
    if (sliced) {
      auto clamp = [rank](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
      start = clamp(start_attr);
      end = std::max(start, has_end ? clamp(end_attr) : rank);
    }
    ctx.set_output(0,
                   Tensor::from_vector<int64_t>(DType::kInt64, {x.shape().begin() + start, x.shape().begin() + end}));
  });
}

void infer_shape(InferenceContext& ctx) {
  const TypeInfo* x = ranked_input(ctx, 0);
  if (x == nullptr) {
    ctx.set_output_type(0, TypeInfo::tensor(DType::kInt64, std::vector<Dim>{Dim{}}));
    return;
  }
  auto [start, end] = shape_range(ctx.node(), ctx.node().opset, static_cast<int64_t>(x->shape->size()));
  ctx.set_output_type(0, TypeInfo::tensor_of_shape(DType::kInt64, {end - start}));
}

const RegisterOp kShape1{{.domain = "",
                          .op_type = "Shape",
                          .since_version = 1,
                          .last_version = 14,
                          .factory = make_shape,
                          .infer = infer_shape}};
const RegisterOp kShape15{{.domain = "",
                           .op_type = "Shape",
                           .since_version = 15,
                           .last_version = INT_MAX,
                           .factory = make_shape,
                           .infer = infer_shape}};

std::unique_ptr<Kernel> make_size(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    ctx.set_output(0, Tensor::scalar<int64_t>(DType::kInt64, ctx.input(0).element_count()));
  });
}

void infer_size(InferenceContext& ctx) { ctx.set_output_type(0, TypeInfo::tensor_of_shape(DType::kInt64, {})); }

const RegisterOp kSize{{.domain = "",
                        .op_type = "Size",
                        .since_version = 1,
                        .last_version = INT_MAX,
                        .factory = make_size,
                        .infer = infer_size}};

// The tensor a Constant node produces, from whichever value attribute it carries.
Tensor constant_value(const Node& node) {
  int set = 0;
  Tensor value;
  for (const auto& [name, attr] : node.attributes) {
    if (name == "value" || name == "sparse_value") {
      check_model(attr.type == Attribute::Type::kTensor || attr.type == Attribute::Type::kSparseTensor, node.label(),
                  ": attribute '", name, "' must be a tensor");
      value = attr.t;
    } else if (name == "value_float") {
      value = Tensor::scalar<float>(DType::kFloat, node.attr_float(name, 0));
    } else if (name == "value_floats") {
      value = Tensor::from_vector<float>(DType::kFloat, node.attr_floats(name));
    } else if (name == "value_int") {
      value = Tensor::scalar<int64_t>(DType::kInt64, node.attr_int(name, 0));
    } else if (name == "value_ints") {
      value = Tensor::from_vector<int64_t>(DType::kInt64, node.attr_ints(name));
    } else if (name == "value_string") {
      value = Tensor::scalar<std::string>(DType::kString, node.attr_string(name, ""));
    } else if (name == "value_strings") {
      value = Tensor::from_vector<std::string>(DType::kString, node.attr_strings(name));
    } else {
      continue;
    }
    ++set;
  }
  check_model(set == 1, node.label(), ": Constant needs exactly one value attribute, got ", set);
  check_model(value.defined(), node.label(), ": Constant value is undefined");
  return value;
}

std::unique_ptr<Kernel> make_constant(const KernelInfo& info) {
  const Tensor value = constant_value(info.node);
  return make_kernel([value](KernelContext& ctx) { ctx.set_output(0, value); });
}

void infer_constant(InferenceContext& ctx) {
  const Tensor value = constant_value(ctx.node());
  ctx.set_output_type(0, TypeInfo::tensor_of_shape(value.dtype(), value.shape()));
}

const RegisterOp kConstant{{.domain = "",
                            .op_type = "Constant",
                            .since_version = 1,
                            .last_version = INT_MAX,
                            .factory = make_constant,
                            .infer = infer_constant}};

// The value ConstantOfShape fills with: its `value` attribute (one element), else float 0.
Tensor fill_value(const Node& node) {
  const Tensor* v = node.attr_tensor("value");
  if (v == nullptr) return Tensor(DType::kFloat, {});
  check_model(v->element_count() == 1, node.label(), ": value must hold one element, got ", tensor_text(*v));
  return *v;
}

std::unique_ptr<Kernel> make_constant_of_shape(const KernelInfo& info) {
  const Tensor value = fill_value(info.node);
  return make_kernel([value](KernelContext& ctx) {
    const Tensor& shape_tensor = ctx.input(0);
    check_argument(shape_tensor.rank() == 1, "ConstantOfShape: input must be 1-D, got ", tensor_text(shape_tensor));
    const std::vector<int64_t> shape = read_ints(shape_tensor, "ConstantOfShape input");
    for (int64_t d : shape) {
      check_argument(d >= 0, "ConstantOfShape: shape ", shape_text(shape), " has a negative dimension");
    }
    Tensor& y = ctx.allocate_output(0, value.dtype(), shape);
    visit_element_bytes(value.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      std::fill_n(y.data<U>(), y.element_count(), *value.data<U>());
    });
  });
}

void infer_constant_of_shape(InferenceContext& ctx) {
  const DType dtype = fill_value(ctx.node()).dtype();
  if (const std::optional<std::vector<int64_t>> shape = constant_ints(ctx, 0)) {
    ctx.set_output_type(0, TypeInfo::tensor_of_shape(dtype, *shape));
    return;
  }
  const TypeInfo* s = ranked_input(ctx, 0);
  if (s != nullptr && s->shape->size() == 1 && (*s->shape)[0].is_known()) {
    ctx.set_output_type(0, TypeInfo::tensor(dtype, std::vector<Dim>(static_cast<size_t>((*s->shape)[0].value))));
  } else {
    ctx.set_output_type(0, TypeInfo::tensor(dtype));
  }
}

const RegisterOp kConstantOfShape{{.domain = "",
                                   .op_type = "ConstantOfShape",
                                   .since_version = 9,
                                   .last_version = INT_MAX,
                                   .factory = make_constant_of_shape,
                                   .infer = infer_constant_of_shape}};

// Element count of a range; integer arithmetic is exact (128-bit), floats follow ceil((limit-start)/delta).
template <typename T>
int64_t range_count(T start, T limit, T delta) {
  if constexpr (std::is_integral_v<T>) {
    check_argument(delta != 0, "Range: delta must not be 0");
    const __int128 span = static_cast<__int128>(limit) - start;
    const __int128 n = delta > 0 ? (span + delta - 1) / delta : (span + delta + 1) / delta;
    return n > 0 ? static_cast<int64_t>(n) : 0;
  } else {
    check_argument(delta != 0 && std::isfinite(delta) && std::isfinite(start) && std::isfinite(limit),
                   "Range: start, limit and delta must be finite and delta non-zero");
    const double n = std::ceil(static_cast<double>((limit - start) / delta));
    check_argument(n < 9.0e15, "Range: ", n, " elements is too many");
    return n > 0 ? static_cast<int64_t>(n) : 0;
  }
}

std::unique_ptr<Kernel> make_range(const KernelInfo& info) {
  const bool stash_float = info.opset < 27 || info.node.attr_int("stash_type", 1) != 0;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& start_t = ctx.input(0);
    const Tensor& limit_t = ctx.input(1);
    const Tensor& delta_t = ctx.input(2);
    const DType dtype = start_t.dtype();
    check_argument(limit_t.dtype() == dtype && delta_t.dtype() == dtype && start_t.element_count() == 1 &&
                       limit_t.element_count() == 1 && delta_t.element_count() == 1,
                   "Range: start ", tensor_text(start_t), ", limit ", tensor_text(limit_t), " and delta ",
                   tensor_text(delta_t), " must be scalars of one dtype");
    visit_dtype(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
        const float start = static_cast<float>(element_to_double(*start_t.data<T>()));
        const float limit = static_cast<float>(element_to_double(*limit_t.data<T>()));
        const float delta = static_cast<float>(element_to_double(*delta_t.data<T>()));
        const int64_t n = range_count(start, limit, delta);
        Tensor& y = ctx.allocate_output(0, dtype, {n});
        T* out = y.data<T>();
        T value = *start_t.data<T>();
        for (int64_t i = 0; i < n; ++i) {
          if (stash_float) {
            out[i] = element_from_double<T>(start + static_cast<float>(i) * delta);
          } else {
            out[i] = value;
            value = element_from_double<T>(element_to_double(value) + element_to_double(*delta_t.data<T>()));
          }
        }
      } else if constexpr (kIsPlainNumber<T> && !std::is_same_v<T, int8_t> && !std::is_same_v<T, uint8_t>) {
        const T start = *start_t.data<T>(), limit = *limit_t.data<T>(), delta = *delta_t.data<T>();
        const int64_t n = range_count(start, limit, delta);
        Tensor& y = ctx.allocate_output(0, dtype, {n});
        T* out = y.data<T>();
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
      } else {
        fail(ErrorCode::kUnsupported, "Range: unsupported dtype ", dtype_name(dtype));
      }
    });
  });
}

void infer_range(InferenceContext& ctx) {
  const TypeInfo* start = ctx.input_type(0);
  if (start == nullptr || !start->is_tensor()) return;
  ctx.set_output_type(0, TypeInfo::tensor(start->elem_type, std::vector<Dim>{Dim{}}));
}

const RegisterOp kRange11{{.domain = "",
                           .op_type = "Range",
                           .since_version = 11,
                           .last_version = 26,
                           .factory = make_range,
                           .infer = infer_range}};
const RegisterOp kRange27{{.domain = "",
                           .op_type = "Range",
                           .since_version = 27,
                           .last_version = INT_MAX,
                           .factory = make_range,
                           .infer = infer_range}};

// Writes one at out[i] for each i in `positions`.
void fill_ones(Tensor& y, const std::vector<int64_t>& positions) {
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T one{};
    if constexpr (std::is_same_v<T, std::string>) {
      fail(ErrorCode::kUnsupported, "EyeLike: string output is not supported");
    } else if constexpr (std::is_same_v<T, bool>) {
      one = true;
    } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
      one = T(1);
    } else {
      one = element_from_double<T>(1.0);
    }
    for (int64_t p : positions) y.data<T>()[p] = one;
  });
}

std::unique_ptr<Kernel> make_eye_like(const KernelInfo& info) {
  const int64_t k = info.node.attr_int("k", 0);
  const bool has_dtype = info.node.has_attribute("dtype");
  const int64_t dtype_attr = info.node.attr_int("dtype", 0);
  check_model(!has_dtype || dtype_is_valid(static_cast<int32_t>(dtype_attr)), info.node.label(), ": invalid dtype ",
              dtype_attr);
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 2, "EyeLike: input must be 2-D, got ", tensor_text(x));
    const DType dtype = has_dtype ? static_cast<DType>(dtype_attr) : x.dtype();
    Tensor& y = ctx.allocate_output(0, dtype, x.shape());
    std::vector<int64_t> positions;
    for (int64_t i = 0; i < x.dim(0); ++i) {
      const int64_t j = i + k;
      if (j >= 0 && j < x.dim(1)) positions.push_back(i * x.dim(1) + j);
    }
    fill_ones(y, positions);
  });
}

void infer_eye_like(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const DType dtype =
      ctx.node().has_attribute("dtype") ? static_cast<DType>(ctx.node().attr_int("dtype", 0)) : x->elem_type;
  ctx.set_output_type(0, TypeInfo::tensor(dtype, x->shape));
}

const RegisterOp kEyeLike{{.domain = "",
                           .op_type = "EyeLike",
                           .since_version = 9,
                           .last_version = INT_MAX,
                           .factory = make_eye_like,
                           .infer = infer_eye_like}};

}  // namespace
}  // namespace tessera
