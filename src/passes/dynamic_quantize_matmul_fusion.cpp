// DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add) -> com.microsoft DynamicQuantizeMatMul (extended
// level; ONNX Runtime's DynamicQuantizeMatMulFusion): the group `tessera quantize --mode dynamic` and onnxruntime's
// quantize_dynamic write for each quantized MatMul,
//
//   q, s, z = DynamicQuantizeLinear(a)
//   y = Mul(Cast<float>(MatMulInteger(q, B, z, B_zp)), Mul(s, B_scale))  [ then Add(y, bias) ]
//
// becomes DynamicQuantizeMatMul(a, B, B_scale, B_zp, bias): one node that quantizes a and runs the integer GEMM
// with the scales and bias in its epilogue, giving the same bits. B must be a constant 2-D int8/uint8 matrix,
// B_scale and B_zp constants (per tensor or per column), bias a constant float vector of B's column count, and
// each intermediate read only by the group (the DynamicQuantizeLinear and the scale Mul may be shared: they are
// removed by dead_code_elimination once no group reads them).
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

bool is_float_cast(const Node& node) {
  return is_onnx_op(node, "Cast") && node.attr_int("to", 0) == static_cast<int64_t>(DType::kFloat);
}

// The constant `name` when it is a float tensor of 1 value or `columns` values in one dimension.
const Tensor* column_constant(const Graph& graph, const std::string& name, DType dtype, int64_t columns) {
  const Tensor* t = fusion::constant_tensor(graph, name);
  if (t == nullptr || t->dtype() != dtype) return nullptr;
  if (t->element_count() == 1 && t->rank() <= 1) return t;
  return t->rank() == 1 && t->dim(0) == columns ? t : nullptr;
}

class DynamicQuantizeMatMulFusion final : public GraphPass {
 public:
  std::string name() const override { return "dynamic_quantize_matmul_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "MatMulInteger")) return false;
    const fusion::GraphIndex index(graph);
    // Matched first and replaced after, so the index never points at a replaced node.
    std::vector<const Node*> removed;
    fusion::NodeReplacements replacements;
    for (const auto& slot : graph.nodes) {
      const Node& mul = *slot;
      if (!is_onnx_op(mul, "Mul") || mul.inputs.size() != 2) continue;
      std::unique_ptr<Node> fused = match(graph, index, mul, removed);
      if (fused) replacements.emplace_back(&mul, std::move(fused));
    }
    return fusion::apply_replacements(graph, replacements, removed);
  }

 private:
  // The fused node replacing the group that ends at `mul` (or at the Add reading it), or nullptr.
  std::unique_ptr<Node> match(const Graph& graph, const fusion::GraphIndex& index, const Node& mul,
                              std::vector<const Node*>& removed) {
    for (int side = 0; side < 2; ++side) {
      Node* cast = index.private_producer(mul.inputs[side]);
      if (cast == nullptr || !is_float_cast(*cast)) continue;
      Node* mmi = index.private_producer(cast->inputs[0]);
      if (mmi == nullptr || !is_onnx_op(*mmi, "MatMulInteger") || !mmi->has_input(2)) continue;
      Node* dql = index.producer(mmi->inputs[0]);
      if (dql == nullptr || !is_onnx_op(*dql, "DynamicQuantizeLinear") || dql->outputs.size() < 3 ||
          dql->outputs[2] != mmi->inputs[2]) {
        continue;
      }
      const Tensor* b = fusion::constant_tensor(graph, mmi->inputs[1]);
      if (b == nullptr || b->rank() != 2 || (b->dtype() != DType::kInt8 && b->dtype() != DType::kUint8)) continue;
      const int64_t columns = b->dim(1);
      Node* scales = index.producer(mul.inputs[1 - side]);
      if (scales == nullptr || !is_onnx_op(*scales, "Mul") || scales->inputs.size() != 2) continue;
      const int s = scales->inputs[0] == dql->outputs[1] ? 0 : scales->inputs[1] == dql->outputs[1] ? 1 : -1;
      if (s < 0) continue;
      const std::string& b_scale = scales->inputs[1 - s];
      if (column_constant(graph, b_scale, DType::kFloat, columns) == nullptr) continue;
      const std::string b_zero_point = mmi->has_input(3) ? mmi->inputs[3] : "";
      if (!b_zero_point.empty()) {
        const Tensor* zp = column_constant(graph, b_zero_point, b->dtype(), columns);
        const Tensor* sc = fusion::constant_tensor(graph, b_scale);
        if (zp == nullptr || zp->element_count() != sc->element_count()) continue;
      }
      // A bias Add reading only this Mul's output.
      Node* add = index.only_consumer(mul.outputs[0]);
      std::string bias;
      if (add != nullptr && is_onnx_op(*add, "Add") && add->inputs.size() == 2) {
        const int a = add->inputs[0] == mul.outputs[0] ? 0 : 1;
        const Tensor* c = fusion::constant_tensor(graph, add->inputs[1 - a]);
        if (c != nullptr && c->dtype() == DType::kFloat && c->rank() == 1 && c->dim(0) == columns) {
          bias = add->inputs[1 - a];
        }
      }
      if (bias.empty()) add = nullptr;
      auto fused = std::make_unique<Node>();
      fused->name = mmi->name.empty() ? mul.outputs[0] + "_dynamic_quantize_matmul" : mmi->name;
      fused->op_type = "DynamicQuantizeMatMul";
      fused->domain = kMicrosoftDomain;
      fused->opset = 1;
      fused->inputs = {dql->inputs[0], mmi->inputs[1], b_scale, b_zero_point, bias};
      while (!fused->inputs.empty() && fused->inputs.back().empty()) fused->inputs.pop_back();
      fused->outputs = {add != nullptr ? add->outputs[0] : mul.outputs[0]};
      std::vector<const Node*> group{dql, scales, mmi, cast, &mul};
      if (add != nullptr) group.push_back(add);
      note(fusion::describe_fusion(*fused, group));
      removed.push_back(mmi);
      removed.push_back(cast);
      if (add != nullptr) {
        // The fused node takes the Mul's place (the bias is a constant); the Add goes.
        removed.push_back(add);
      }
      return fused;
    }
    return nullptr;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_dynamic_quantize_matmul_fusion() {
  return std::make_unique<DynamicQuantizeMatMulFusion>();
}

}  // namespace tessera
