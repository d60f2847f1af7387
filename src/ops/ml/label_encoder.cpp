// Lookup-table operators of ai.onnx.ml: LabelEncoder (opset 1: strings <-> indices into 'classes_strings';
// opset 2: keys_*/values_* lists; opset 4: adds keys/values/default tensors and more element types) and
// CategoryMapper (opset 1: strings <-> integers through two parallel lists).
#include <climits>
#include <cmath>
#include <unordered_map>

#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

enum class KeyKind { kString, kInteger, kFloat };

KeyKind key_kind_of(DType dtype) {
  if (dtype == DType::kString) return KeyKind::kString;
  if (dtype == DType::kFloat || dtype == DType::kDouble) return KeyKind::kFloat;
  return KeyKind::kInteger;
}

const char* key_kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::kString:
      return "strings";
    case KeyKind::kInteger:
      return "integers";
    case KeyKind::kFloat:
      return "floats";
  }
  return "?";
}

// keys[i] -> values[i] (the last of repeated keys wins), default for anything else. Float keys match by value.
class LabelMap {
 public:
  // With `nan_matches_nan` (opset 4), a NaN key matches NaN inputs; before, NaN never matches.
  LabelMap(const Tensor& keys, Tensor values, Tensor default_value, bool nan_matches_nan = false)
      : kind_(key_kind_of(keys.dtype())), values_(std::move(values)), default_(std::move(default_value)) {
    check_model(keys.element_count() == values_.element_count(), "the keys (", keys.element_count(),
                " values) and values (", values_.element_count(), ") must have the same length");
    check_model(default_.element_count() >= 1 && default_.dtype() == values_.dtype(), "the default value ",
                tensor_text(default_), " must hold one element of the values' type ", dtype_name(values_.dtype()));
    visit_dtype(keys.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* data = keys.data<T>();
      for (int64_t i = 0; i < keys.element_count(); ++i) {
        if constexpr (std::is_same_v<T, std::string>) {
          strings_[data[i]] = i;
        } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
          if (std::isnan(data[i]))
            nan_index_ = nan_matches_nan ? i : -1;
          else
            floats_[static_cast<double>(data[i]) + 0.0] = i;  // + 0.0 folds -0 into +0
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          integers_[static_cast<int64_t>(data[i])] = i;
        } else {
          fail(ErrorCode::kInvalidModel, "keys of element type ", dtype_name(keys.dtype()), " are not supported");
        }
      }
    });
  }

  KeyKind key_kind() const { return kind_; }
  DType value_type() const { return values_.dtype(); }

  // Maps every element of x into a new tensor of the values' type and x's shape.
  void apply(const Tensor& x, Tensor& y) const {
    check_argument(key_kind_of(x.dtype()) == kind_ && x.dtype() != DType::kBool, "input 'X' ", tensor_text(x),
                   " does not match the keys, which are ", key_kind_name(kind_));
    std::vector<int64_t> found(static_cast<size_t>(x.element_count()));
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = x.data<T>();
      for (size_t i = 0; i < found.size(); ++i) {
        if constexpr (std::is_same_v<T, std::string>)
          found[i] = lookup(strings_, in[i]);
        else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
          found[i] = std::isnan(in[i]) ? nan_index_ : lookup(floats_, static_cast<double>(in[i]) + 0.0);
        else if constexpr (std::is_integral_v<T>)
          found[i] = lookup(integers_, static_cast<int64_t>(in[i]));
        else
          fail(ErrorCode::kInvalidArgument, "input 'X' ", x.description(), ": unsupported element type");
      }
    });
    visit_dtype(values_.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* values = values_.data<T>();
      const T& fallback = default_.data<T>()[0];
      T* out = y.data<T>();
      for (size_t i = 0; i < found.size(); ++i) out[i] = found[i] >= 0 ? values[found[i]] : fallback;
    });
  }

 private:
  template <typename Map, typename Key>
  static int64_t lookup(const Map& map, const Key& key) {
    auto it = map.find(key);
    return it == map.end() ? -1 : it->second;
  }

  KeyKind kind_;
  Tensor values_;
  Tensor default_;
  std::unordered_map<std::string, int64_t> strings_;
  std::unordered_map<int64_t, int64_t> integers_;
  std::unordered_map<double, int64_t> floats_;
  int64_t nan_index_ = -1;
};

Tensor string_tensor(const std::vector<std::string>& values) { return Tensor::from_vector(DType::kString, values); }
Tensor int64_tensor(const std::vector<int64_t>& values) { return Tensor::from_vector(DType::kInt64, values); }
Tensor float_tensor(const std::vector<float>& values) { return Tensor::from_vector(DType::kFloat, values); }

std::vector<int64_t> iota_int64(size_t count) {
  std::vector<int64_t> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

// A kernel choosing among maps by the input's key kind (one map for LabelEncoder-2/4, two for the
// string <-> integer operators).
std::unique_ptr<Kernel> make_lookup_kernel(std::vector<std::shared_ptr<const LabelMap>> maps) {
  return make_kernel([maps = std::move(maps)](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    for (const auto& map : maps) {
      if (map->key_kind() != key_kind_of(x.dtype())) continue;
      Tensor& y = ctx.allocate_output(0, map->value_type(), x.shape());
      map->apply(x, y);
      return;
    }
    maps.front()->apply(x, ctx.allocate_output(0, maps.front()->value_type(), x.shape()));  // throws the mismatch
  });
}

// LabelEncoder-1: strings map to their index in classes_strings (else default_int64); int64 inputs index
// classes_strings (else default_string).
std::unique_ptr<Kernel> make_label_encoder_1(const KernelInfo& info) {
  const std::vector<std::string> classes = info.node.attr_strings("classes_strings");
  const Tensor indices = int64_tensor(iota_int64(classes.size()));
  auto to_index = std::make_shared<const LabelMap>(string_tensor(classes), indices,
                                                   int64_tensor({info.node.attr_int("default_int64", -1)}));
  auto to_string = std::make_shared<const LabelMap>(
      indices, string_tensor(classes), string_tensor({info.node.attr_string("default_string", "_Unused")}));
  return make_lookup_kernel({to_index, to_string});
}

// The one keys_* (or values_*) attribute of a LabelEncoder-2/4 node as a tensor.
Tensor label_encoder_list(const Node& node, const std::string& prefix) {
  std::vector<Tensor> found;
  if (node.has_attribute(prefix + "_strings")) found.push_back(string_tensor(node.attr_strings(prefix + "_strings")));
  if (node.has_attribute(prefix + "_int64s")) found.push_back(int64_tensor(node.attr_ints(prefix + "_int64s")));
  if (node.has_attribute(prefix + "_floats")) found.push_back(float_tensor(node.attr_floats(prefix + "_floats")));
  if (const Tensor* t = node.attr_tensor(prefix + "_tensor")) found.push_back(t->reshaped({t->element_count()}));
  check_model(found.size() == 1, "exactly one of the '", prefix, "_*' attributes must be set (found ", found.size(),
              ")");
  return found.front();
}

// The default of LabelEncoder-2/4 for values of `dtype`: default_tensor, else default_string / default_int64 /
// default_float converted to `dtype`.
Tensor label_encoder_default(const Node& node, DType dtype) {
  if (const Tensor* t = node.attr_tensor("default_tensor")) return t->reshaped({t->element_count()});
  if (dtype == DType::kString) return string_tensor({node.attr_string("default_string", "_Unused")});
  const double value = dtype_is_float(dtype) ? static_cast<double>(node.attr_float("default_float", -0.0f))
                                             : static_cast<double>(node.attr_int("default_int64", -1));
  Tensor t(dtype, {1});
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, std::complex<float>> &&
                  !std::is_same_v<T, std::complex<double>>) {
      t.data<T>()[0] = element_from_double<T>(value);
    }
  });
  return t;
}

std::unique_ptr<Kernel> make_label_encoder_2(const KernelInfo& info) {
  if (info.opset < 4) {
    for (const char* name : {"keys_tensor", "values_tensor", "default_tensor"}) {
      check_model(!info.node.has_attribute(name), "attribute '", name, "' needs ai.onnx.ml opset 4, the model has ",
                  info.opset);
    }
  }
  const Tensor keys = label_encoder_list(info.node, "keys");
  const Tensor values = label_encoder_list(info.node, "values");
  return make_lookup_kernel({std::make_shared<const LabelMap>(
      keys, values, label_encoder_default(info.node, values.dtype()), info.opset >= 4)});
}

// CategoryMapper: strings -> cats_int64s (else default_int64), int64 -> cats_strings (else default_string).
std::unique_ptr<Kernel> make_category_mapper(const KernelInfo& info) {
  const Tensor ints = int64_tensor(info.node.attr_ints("cats_int64s"));
  const Tensor strings = string_tensor(info.node.attr_strings("cats_strings"));
  auto to_int =
      std::make_shared<const LabelMap>(strings, ints, int64_tensor({info.node.attr_int("default_int64", -1)}));
  auto to_string = std::make_shared<const LabelMap>(
      ints, strings, string_tensor({info.node.attr_string("default_string", "_Unused")}));
  return make_lookup_kernel({to_int, to_string});
}

// Output: the input's shape; the element type is the other one of string/int64 (opset 1 operators) or the
// values' type.
void infer_string_int_swap(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(0);
  if (x == nullptr || !x->is_tensor()) return;
  ctx.set_output_type(0, TypeInfo::tensor(x->elem_type == DType::kString ? DType::kInt64 : DType::kString, x->shape));
}

void infer_label_encoder_2(InferenceContext& ctx) {
  const Node& node = ctx.node();
  DType dtype = DType::kUndefined;
  if (node.has_attribute("values_strings"))
    dtype = DType::kString;
  else if (node.has_attribute("values_int64s"))
    dtype = DType::kInt64;
  else if (node.has_attribute("values_floats"))
    dtype = DType::kFloat;
  else if (const Tensor* t = node.attr_tensor("values_tensor"))
    dtype = t->dtype();
  if (dtype == DType::kUndefined) return;
  const TypeInfo* x = ctx.input_type(0);
  ctx.set_output_type(0, TypeInfo::tensor(dtype, x && x->is_tensor() ? x->shape : std::nullopt));
}

const RegisterOp kLabelEncoder1{ml_registration("LabelEncoder", 1, 1, make_label_encoder_1, infer_string_int_swap)};
const RegisterOp kLabelEncoder2{ml_registration("LabelEncoder", 2, 3, make_label_encoder_2, infer_label_encoder_2)};
const RegisterOp kLabelEncoder4{
    ml_registration("LabelEncoder", 4, INT_MAX, make_label_encoder_2, infer_label_encoder_2)};
const RegisterOp kCategoryMapper{
    ml_registration("CategoryMapper", 1, INT_MAX, make_category_mapper, infer_string_int_swap)};

}  // namespace
}  // namespace tessera
