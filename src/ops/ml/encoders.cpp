// ai.onnx.ml operators that reshape features (opset 1): OneHotEncoder, FeatureVectorizer, ArrayFeatureExtractor.
#include <climits>
#include <cstring>
#include <unordered_map>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

// OneHotEncoder: y has x's shape plus a last axis of one float per category; the category of each element
// (strings against cats_strings; numbers cast to int64 against cats_int64s) gets 1. Unknown values give an
// all-zero row, or an error when zeros = 0.
std::unique_ptr<Kernel> make_one_hot_encoder(const KernelInfo& info) {
  const std::vector<int64_t> cats_ints = info.node.attr_ints("cats_int64s");
  const std::vector<std::string> cats_strings = info.node.attr_strings("cats_strings");
  check_model(cats_ints.empty() != cats_strings.empty(), "exactly one of 'cats_int64s' and 'cats_strings' must be set");
  const bool zeros = info.node.attr_int("zeros", 1) != 0;
  std::unordered_map<int64_t, int64_t> int_index;
  std::unordered_map<std::string, int64_t> string_index;
  for (size_t i = 0; i < cats_ints.size(); ++i) int_index.emplace(cats_ints[i], static_cast<int64_t>(i));
  for (size_t i = 0; i < cats_strings.size(); ++i) string_index.emplace(cats_strings[i], static_cast<int64_t>(i));
  const auto categories = static_cast<int64_t>(cats_ints.size() + cats_strings.size());
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> shape = x.shape();
    shape.push_back(categories);
    Tensor& y = ctx.allocate_output(0, DType::kFloat, shape);
    float* out = y.data<float>();
    const auto place = [&](int64_t i, int64_t category, const auto& value) {
      if (category >= 0) {
        out[i * categories + category] = 1.0f;
      } else {
        check_argument(zeros, "input 'X' ", tensor_text(x), ": value ", value,
                       " is not a known category and attribute 'zeros' is 0");
      }
    };
    if (x.dtype() == DType::kString) {
      check_argument(!cats_strings.empty(), "input 'X' ", tensor_text(x),
                     " holds strings but the node has 'cats_int64s'");
      const std::string* in = x.data<std::string>();
      for (int64_t i = 0; i < x.element_count(); ++i) {
        auto it = string_index.find(in[i]);
        place(i, it == string_index.end() ? -1 : it->second, "'" + in[i] + "'");
      }
      return;
    }
    check_argument(!cats_ints.empty(), "input 'X' ", tensor_text(x), " holds numbers but the node has 'cats_strings'");
    const std::vector<double> in = numeric_values<double>(x, "input 'X'");
    for (size_t i = 0; i < in.size(); ++i) {
      const bool representable = std::isfinite(in[i]) && std::fabs(in[i]) < 9.2e18;
      const auto it = representable ? int_index.find(static_cast<int64_t>(in[i])) : int_index.end();
      place(static_cast<int64_t>(i), it == int_index.end() ? -1 : it->second, in[i]);
    }
  });
}

void infer_one_hot_encoder(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor() || !x->shape) {
    ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat));
    return;
  }
  std::vector<Dim> dims = *x->shape;
  const size_t categories = ctx.node().attr_ints("cats_int64s").size() + ctx.node().attr_strings("cats_strings").size();
  dims.push_back(Dim::known(static_cast<int64_t>(categories)));
  ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, dims));
}

// FeatureVectorizer: concatenates the rows of every input ([N, C] or [C] as [1, C]) into [N, sum(dims)] floats;
// input i contributes exactly inputdimensions[i] columns (truncated or zero-padded).
std::unique_ptr<Kernel> make_feature_vectorizer(const KernelInfo& info) {
  const std::vector<int64_t> dims = info.node.attr_ints("inputdimensions");
  check_model(dims.size() == info.node.inputs.size(), "attribute 'inputdimensions' has ", dims.size(), " values for ",
              info.node.inputs.size(), " inputs");
  int64_t total = 0;
  for (int64_t d : dims) {
    check_model(d >= 0, "attribute 'inputdimensions' holds a negative size ", d);
    total += d;
  }
  return make_kernel([dims, total](KernelContext& ctx) {
    const Tensor& first = ctx.input(0);
    const int64_t rows = feature_shape(first, "input 0").rows;
    Tensor& y = ctx.allocate_output(0, DType::kFloat, {rows, total});
    float* out = y.data<float>();
    int64_t column = 0;
    for (size_t k = 0; k < dims.size(); ++k) {
      const Tensor& x = ctx.input(k);
      const std::string what = "input " + std::to_string(k);
      const FeatureShape fs = feature_shape(x, what.c_str());
      check_argument(fs.rows == rows, what, " ", tensor_text(x), " has ", fs.rows, " rows, input 0 has ", rows);
      const std::vector<float> in = numeric_values<float>(x, what.c_str());
      const int64_t copied = std::min(fs.columns, dims[k]);
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(out + r * total + column, in.data() + r * fs.columns, static_cast<size_t>(copied) * sizeof(float));
      }
      column += dims[k];
    }
  });
}

void infer_feature_vectorizer(InferenceContext& ctx) {
  int64_t total = 0;
  for (int64_t d : ctx.node().attr_ints("inputdimensions")) total += d;
  const TypeInfo* x = ctx.input_type(0);
  Dim rows = Dim::known(1);
  if (x == nullptr || !x->shape)
    rows = Dim{};
  else if (x->shape->size() >= 2)
    rows = (*x->shape)[0];
  ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, std::vector<Dim>{rows, Dim::known(total)}));
}

// ArrayFeatureExtractor: gathers the given indices along the last axis; the output is x's shape with the last
// dim replaced by the number of indices ([1, count] for a 1-D x).
std::unique_ptr<Kernel> make_array_feature_extractor(const KernelInfo&) {
  return make_kernel([](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& indices_tensor = ctx.input(1);
    check_argument(x.rank() >= 1, "input 'X' ", tensor_text(x), " must have rank >= 1");
    check_argument(indices_tensor.dtype() == DType::kInt64, "input 'Y' ", tensor_text(indices_tensor),
                   " must hold int64 indices");
    const std::vector<int64_t> indices = tensor_to_int64s(indices_tensor);
    const int64_t last = x.dim(x.rank() - 1);
    for (int64_t index : indices) {
      check_argument(index >= 0 && index < last, "input 'Y': index ", index, " is out of range for X ", tensor_text(x));
    }
    const auto count = static_cast<int64_t>(indices.size());
    std::vector<int64_t> shape = x.shape();
    if (shape.size() == 1) shape.insert(shape.begin(), 1);
    shape.back() = count;
    Tensor& y = ctx.allocate_output(0, x.dtype(), shape);
    const int64_t rows = last == 0 ? 0 : x.element_count() / last;
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                    std::is_same_v<T, int64_t> || std::is_same_v<T, std::string>) {
        const T* in = x.data<T>();
        T* out = y.data<T>();
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t j = 0; j < count; ++j) out[r * count + j] = in[r * last + indices[static_cast<size_t>(j)]];
        }
      } else {
        fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(),
             ": element type must be float, double, int32, int64 or string");
      }
    });
  });
}

void infer_array_feature_extractor(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  const TypeInfo* y = ctx.input_type(1);
  if (!x->shape || x->shape->empty() || y == nullptr || !y->has_static_shape()) {
    ctx.set_output_type(0, TypeInfo::tensor(x->elem_type));
    return;
  }
  std::vector<Dim> dims = *x->shape;
  if (dims.size() == 1) dims.insert(dims.begin(), Dim::known(1));
  dims.back() = Dim::known(shape_element_count(y->static_shape()));
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type, dims));
}

const RegisterOp kOneHotEncoder{
    ml_registration("OneHotEncoder", 1, INT_MAX, make_one_hot_encoder, infer_one_hot_encoder)};
const RegisterOp kFeatureVectorizer{
    ml_registration("FeatureVectorizer", 1, INT_MAX, make_feature_vectorizer, infer_feature_vectorizer)};
const RegisterOp kArrayFeatureExtractor{
    ml_registration("ArrayFeatureExtractor", 1, INT_MAX, make_array_feature_extractor, infer_array_feature_extractor)};

}  // namespace
}  // namespace tessera
