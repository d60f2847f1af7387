// ai.onnx.ml DictVectorizer (opset 1): a map becomes a [1, V] tensor holding the map's value for each vocabulary
// key, in vocabulary order (the default value of the element type where the map lacks the key), as ONNX Runtime
// computes it.
#include <algorithm>
#include <climits>
#include <memory>

#include "base/dtype_dispatch.h"
#include "ops/ml/ml_common.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using namespace ml;

// Writes, for each vocabulary key, the map's value for it or T{} where the map has no such key.
template <typename K, typename T>
void vectorize(const MapValue& map, const std::vector<K>& vocabulary, T* out) {
  const K* keys_begin = map.keys.data<K>();
  const K* keys_end = keys_begin + map.size();
  const T* values = map.values.data<T>();
  for (size_t i = 0; i < vocabulary.size(); ++i) {
    const K* found = std::lower_bound(keys_begin, keys_end, vocabulary[i]);
    out[i] = found != keys_end && *found == vocabulary[i] ? values[found - keys_begin] : T{};
  }
}

std::unique_ptr<Kernel> make_dict_vectorizer(const KernelInfo& info) {
  const std::vector<int64_t> int_vocabulary = info.node.attr_ints("int64_vocabulary");
  const std::vector<std::string> string_vocabulary = info.node.attr_strings("string_vocabulary");
  check_model(int_vocabulary.empty() != string_vocabulary.empty(), info.node.label(),
              ": exactly one of 'int64_vocabulary' and 'string_vocabulary' must be set");
  const DType key_type = int_vocabulary.empty() ? DType::kString : DType::kInt64;
  const auto size = static_cast<int64_t>(int_vocabulary.size() + string_vocabulary.size());
  const TypeInfo& declared = info.input_types.empty() ? TypeInfo{} : info.input_types[0];
  check_model(declared.kind == TypeInfo::Kind::kUnknown ||
                  (declared.kind == TypeInfo::Kind::kMap && declared.elem_type == key_type),
              info.node.label(), ": input 'X' is ", declared.to_string(), " but the vocabulary needs a map with ",
              dtype_name(key_type), " keys");
  return make_kernel([=](KernelContext& ctx) {
    const MapValue& map = ctx.input_map(0);
    check_argument(map.keys.dtype() == key_type, "input 'X' ", map.description(), " has ", dtype_name(map.keys.dtype()),
                   " keys but the vocabulary holds ", dtype_name(key_type), " keys");
    Tensor& y = ctx.allocate_output(0, map.values.dtype(), {1, size});
    visit_dtype(map.values.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t> ||
                    std::is_same_v<T, std::string>) {
        if (key_type == DType::kInt64) {
          vectorize(map, int_vocabulary, y.data<T>());
        } else {
          vectorize(map, string_vocabulary, y.data<T>());
        }
      } else {
        fail(ErrorCode::kInvalidArgument, "input 'X' ", map.description(),
             ": map values must be float, double, int64 or string");
      }
    });
  });
}

void infer_dict_vectorizer(InferenceContext& ctx) {
  const int64_t size = static_cast<int64_t>(ctx.node().attr_ints("int64_vocabulary").size() +
                                            ctx.node().attr_strings("string_vocabulary").size());
  const TypeInfo* x = ctx.input_type(0);
  const bool known = x != nullptr && x->kind == TypeInfo::Kind::kMap && x->element != nullptr;
  if (!known) return;
  ctx.set_output_type(0, TypeInfo::tensor(x->element->elem_type, std::vector<Dim>{Dim::known(1), Dim::known(size)}));
}

const RegisterOp kDictVectorizer{
    ml_registration("DictVectorizer", 1, INT_MAX, make_dict_vectorizer, infer_dict_vectorizer)};

}  // namespace
}  // namespace tessera
