// Helpers for the tests of the ai.onnx.ml map operators (ZipMap, DictVectorizer, CastMap): running one node on
// RuntimeValues (maps included) through the registry, and building maps from C++ vectors.
#pragma once

#include <string>
#include <vector>

#include "ops/nn_test_util.h"

namespace tessera::map_test {

using nn_test::int_attr;
using nn_test::ints_attr;
using nn_test::string_attr;
using nn_test::strings_attr;

// Runs one ai.onnx.ml node of `op_type` (opset 1) on `inputs`; `input_types` are what the kernel factory sees as
// the inputs' static types (empty: unknown). Returns the node's outputs.
inline std::vector<RuntimeValue> run_ml(const std::string& op_type, const std::vector<Attribute>& attrs,
                                        const std::vector<RuntimeValue>& inputs,
                                        std::vector<TypeInfo> input_types = {}) {
  Node node = nn_test::make_node(op_type, 1, attrs, inputs.size(), 1);
  node.domain = "ai.onnx.ml";
  const OpRegistration* reg = OpRegistry::instance().find("ai.onnx.ml", op_type, 1);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  input_types.resize(inputs.size());
  KernelInfo info{node, 1, input_types, {}, std::vector<const Tensor*>(inputs.size(), nullptr), {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : inputs) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(1);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, serial, {});
  kernel->compute(ctx);
  return outputs;
}

// The output types the op's shape inference gives for inputs of `input_types`.
inline std::vector<TypeInfo> infer_ml(const std::string& op_type, const std::vector<Attribute>& attrs,
                                      const std::vector<TypeInfo>& input_types) {
  Node node = nn_test::make_node(op_type, 1, attrs, input_types.size(), 1);
  node.domain = "ai.onnx.ml";
  std::vector<const TypeInfo*> types;
  for (const TypeInfo& t : input_types) types.push_back(&t);
  InferenceContext ctx(node, types, std::vector<const Tensor*>(input_types.size(), nullptr));
  OpRegistry::instance().find("ai.onnx.ml", op_type, 1)->infer(ctx);
  return ctx.output_types();
}

// A map value from parallel key and value lists (any order; see MapValue::from_pairs).
template <typename K, typename V>
RuntimeValue make_map(DType key_type, const std::vector<K>& keys, DType value_type, const std::vector<V>& values) {
  return RuntimeValue::map(
      MapValue::from_pairs(Tensor::from_vector(key_type, keys), Tensor::from_vector(value_type, values)));
}

// The elements of a 1-D tensor of T.
template <typename T>
std::vector<T> elements(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.element_count());
}

}  // namespace tessera::map_test
