// Test helpers shared by the nn family tests (nn_test.cpp, nn_resize_test.cpp): attributes, running one node
// through the registry, random inputs and tolerant comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "ops/registry.h"

namespace tessera::nn_test {

inline Attribute int_attr(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInt;
  a.i = v;
  return a;
}
inline Attribute float_attr(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloat;
  a.f = v;
  return a;
}
inline Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute floats_attr(const std::string& name, std::vector<float> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kFloats;
  a.floats = std::move(v);
  return a;
}
inline Attribute string_attr(const std::string& name, std::string v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kString;
  a.s = std::move(v);
  return a;
}

inline Attribute strings_attr(const std::string& name, std::vector<std::string> v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::Type::kStrings;
  a.strings = std::move(v);
  return a;
}

inline Node make_node(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs, size_t inputs,
                      size_t outputs) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.opset = opset;
  for (size_t i = 0; i < inputs; ++i) node.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) node.outputs.push_back("out" + std::to_string(i));
  for (const Attribute& a : attrs) node.attributes[a.name] = a;
  return node;
}

// Runs one node of `op_type` at `opset` of `domain` on `inputs` (an undefined Tensor is a missing input). The inputs
// marked in `constant` are given to the kernel's factory as constant initializers (which it may consume: they are then
// passed to compute as absent, as the runtime does).
inline std::vector<Tensor> run_op(const std::string& op_type, int64_t opset, const std::vector<Attribute>& attrs,
                                  const std::vector<Tensor>& inputs, size_t output_count = 1,
                                  Parallelism* parallelism = nullptr, const std::string& domain = "",
                                  const std::vector<bool>& constant = {}) {
  Node node = make_node(op_type, opset, attrs, inputs.size(), output_count);
  node.domain = domain;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) node.inputs[i] = "";
  }
  const OpRegistration* reg = OpRegistry::instance().find(domain, op_type, opset);
  if (reg == nullptr) throw Error(ErrorCode::kUnsupported, "no kernel for " + op_type);
  std::vector<TypeInfo> input_types;
  for (const Tensor& t : inputs) {
    input_types.push_back(t.defined() ? TypeInfo::tensor_of_shape(t.dtype(), t.shape()) : TypeInfo{});
  }
  std::vector<const Tensor*> constants(inputs.size(), nullptr);
  for (size_t i = 0; i < constant.size() && i < inputs.size(); ++i) {
    if (constant[i] && inputs[i].defined()) constants[i] = &inputs[i];
  }
  KernelInfo info{node, opset, input_types, {}, constants, {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<RuntimeValue> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool passed = inputs[i].defined() && !info.consumed_constant_input(i);
    values.emplace_back(passed ? RuntimeValue(inputs[i]) : RuntimeValue());
  }
  std::vector<const RuntimeValue*> input_ptrs;
  for (const RuntimeValue& v : values) input_ptrs.push_back(&v);
  std::vector<RuntimeValue> outputs(output_count);
  SerialParallelism serial;
  KernelContext ctx(node, input_ptrs, outputs, parallelism ? *parallelism : serial, {});
  kernel->compute(ctx);
  std::vector<Tensor> result;
  for (RuntimeValue& v : outputs) result.push_back(v.tensor());
  return result;
}

// The ErrorCode `fn` throws (fails the test when it throws nothing).
inline ErrorCode error_code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected an Error";
  return ErrorCode::kRuntime;
}

inline Tensor random_float(const std::vector<int64_t>& shape, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
  Tensor t(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

inline std::vector<double> values_of(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsPlainNumber<T> || kIsNarrowFloat<T>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = element_to_double(t.data<T>()[i]);
    } else if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<bool>()[i] ? 1 : 0;
    }
  });
  return out;
}

inline void expect_close(const Tensor& actual, const std::vector<double>& expected, const std::vector<int64_t>& shape,
                         double rtol = 1e-4, double atol = 1e-5) {
  ASSERT_EQ(shape_to_string(actual.shape()), shape_to_string(shape));
  const std::vector<double> a = values_of(actual);
  ASSERT_EQ(a.size(), expected.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(a[i])) << "at " << i;
    } else {
      ASSERT_NEAR(a[i], expected[i], atol + rtol * std::abs(expected[i])) << "at " << i;
    }
  }
}

inline Tensor to_dtype(const Tensor& t, DType dtype) {
  Tensor out(dtype, t.shape());
  const std::vector<double> v = values_of(t);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsPlainNumber<T> || kIsNarrowFloat<T>) {
      for (size_t i = 0; i < v.size(); ++i) out.data<T>()[i] = element_from_double<T>(v[i]);
    }
  });
  return out;
}

}  // namespace tessera::nn_test
