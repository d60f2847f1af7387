// In-place elementwise: Add/Sub/Mul/Div and the unary kernels write their output over an input the runtime marked
// overwritable (KernelContext::output_over_input_or_uninitialized) when it already has the output's type and
// shape, with the values of a separate output; never over an unmarked input, nor over one of another shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace tessera {
namespace {

Tensor ramp(const std::vector<int64_t>& shape, float scale, float offset) {
  Tensor t(DType::kFloat, shape);
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = static_cast<float>(i % 17) * scale + offset;
  return t;
}

std::vector<float> values_of(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.element_count()}; }

// Runs `op_type` on copies of `inputs` with `marks` as the runtime's last-use marks. Returns the output and
// whether it took over input `which`'s memory.
struct Result {
  std::vector<float> values;
  int over_input = -1;
};
Result run(const std::string& op_type, const std::vector<Tensor>& inputs, const std::vector<bool>& marks,
           Parallelism& parallelism) {
  Node node;
  node.name = "n";
  node.op_type = op_type;
  node.opset = 17;
  std::vector<TypeInfo> types;
  std::vector<RuntimeValue> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.inputs.push_back("in" + std::to_string(i));
    types.push_back(TypeInfo::tensor_of_shape(inputs[i].dtype(), inputs[i].shape()));
    Tensor copy(inputs[i].dtype(), inputs[i].shape());  // memory only this call holds
    std::copy_n(inputs[i].data<float>(), inputs[i].element_count(), copy.data<float>());
    values.emplace_back(std::move(copy));
  }
  node.outputs.push_back("out");
  const OpRegistration* reg = OpRegistry::instance().find("", op_type, 17);
  KernelInfo info{node, 17, types, {}, std::vector<const Tensor*>(inputs.size(), nullptr), {}};
  std::unique_ptr<Kernel> kernel = reg->factory(info);
  std::vector<const RuntimeValue*> pointers;
  std::vector<const void*> memory;
  for (const RuntimeValue& v : values) {
    pointers.push_back(&v);
    memory.push_back(v.tensor().raw_data());
  }
  std::vector<RuntimeValue> outputs(1);
  KernelContext ctx(node, pointers, outputs, parallelism, {});
  ctx.set_last_use_inputs(&marks);
  kernel->compute(ctx);
  Result r;
  r.values = values_of(outputs[0].tensor());
  for (size_t i = 0; i < memory.size(); ++i)
    if (outputs[0].tensor().raw_data() == memory[i]) r.over_input = static_cast<int>(i);
  return r;
}

TEST(ElementwiseInPlaceTest, BinaryOpsWriteOverAMarkedOperandOfTheOutputShape) {
  ThreadPool pool(2);
  const Tensor a = ramp({4, 300}, 0.5f, -2.0f), b = ramp({4, 300}, 0.25f, 1.0f), row = ramp({300}, 0.1f, 3.0f);
  for (Parallelism* p : {static_cast<Parallelism*>(&pool)}) {
    for (const std::string op : {"Add", "Sub", "Mul", "Div"}) {
      SCOPED_TRACE(op);
      const Result fresh = run(op, {a, b}, {false, false}, *p);
      EXPECT_EQ(fresh.over_input, -1);
      const Result over_a = run(op, {a, b}, {true, true}, *p);
      EXPECT_EQ(over_a.over_input, 0);
      EXPECT_EQ(over_a.values, fresh.values);
      const Result over_b = run(op, {a, b}, {false, true}, *p);
      EXPECT_EQ(over_b.over_input, 1);
      EXPECT_EQ(over_b.values, fresh.values);
      // A broadcast operand is never written over; the full-shape one is.
      const Result row_first = run(op, {row, b}, {true, true}, *p);
      EXPECT_EQ(row_first.over_input, 1);
      EXPECT_EQ(row_first.values, run(op, {row, b}, {false, false}, *p).values);
      const Result row_second = run(op, {a, row}, {false, true}, *p);
      EXPECT_EQ(row_second.over_input, -1);
    }
  }
}

TEST(ElementwiseInPlaceTest, UnaryOpsWriteOverAMarkedInput) {
  ThreadPool pool(2);
  const Tensor x = ramp({3, 1000}, 0.37f, -3.0f);
  for (const std::string op : {"Relu", "Exp", "Tanh", "Sigmoid", "Abs", "Neg"}) {
    SCOPED_TRACE(op);
    const Result fresh = run(op, {x}, {false}, pool);
    EXPECT_EQ(fresh.over_input, -1);
    const Result over = run(op, {x}, {true}, pool);
    EXPECT_EQ(over.over_input, 0);
    EXPECT_EQ(over.values, fresh.values);
  }
}

}  // namespace
}  // namespace tessera
