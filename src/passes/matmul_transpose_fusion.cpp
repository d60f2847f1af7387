// Folds into com.microsoft FusedMatMul (ONNX Runtime's contrib op, so a saved model stays runnable there) what a
// MatMul's operands and output go through on the way:
//   MatMul(Transpose(a, swap of the last two dims), b)  -> FusedMatMul(a, b, transA = 1)   (likewise for b)
//   MatMul(a, b) * c, MatMul(a, b) / c (c a scalar constant) -> FusedMatMul(..., alpha = c or 1/c)
// The GEMM then reads the operand transposed in place and scales in its own multiply: the Transpose copy and the
// scale pass disappear. Float32 only (inferred), operands of rank 2 or more, each folded node read only here.
#include <algorithm>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::is_onnx_op;

class MatMulTransposeFusion final : public GraphPass {
 public:
  std::string name() const override { return "matmul_transpose_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    if (!fusion::has_onnx_op(graph, "MatMul")) return false;
    graph_ = &graph;
    fusion::infer_types(graph);
    index_ = fusion::GraphIndex(graph);
    std::vector<const Node*> removed;
    for (auto& slot : graph.nodes) {
      Node& mm = *slot;
      if (!is_onnx_op(mm, "MatMul") || mm.inputs.size() != 2 || mm.outputs.size() != 1) continue;
      if (std::find(removed.begin(), removed.end(), &mm) != removed.end()) continue;
      std::vector<const Node*> folded;
      bool trans[2] = {false, false};
      std::string operands[2] = {mm.inputs[0], mm.inputs[1]};
      for (int side = 0; side < 2; ++side) {
        const Node* t = last_two_swap(mm.inputs[side]);
        if (t == nullptr) continue;
        trans[side] = true;
        operands[side] = t->inputs[0];
        folded.push_back(t);
      }
      float alpha = 1.0f;
      std::string output = mm.outputs[0];
      const Node* c = index_.only_consumer(output);
      if (c != nullptr && (is_onnx_op(*c, "Mul") || is_onnx_op(*c, "Div")) && c->inputs.size() == 2) {
        const Node& scale = *c;
        const bool div = scale.op_type == "Div";
        for (int side = div ? 1 : 0; side < 2; ++side) {
          if (scale.inputs[side] == output) continue;
          std::optional<float> v = fusion::scalar_float_constant(*graph_, scale.inputs[side]);
          if (!v || *v == 0.0f || (div && side != 1)) continue;
          alpha = div ? 1.0f / *v : *v;
          folded.push_back(&scale);
          output = scale.outputs[0];
          break;
        }
      }
      if (folded.empty() || !float_operands(operands[0], operands[1])) continue;
      const std::string before = fusion::node_text(mm);
      std::vector<const Node*> replaced = {&mm};
      replaced.insert(replaced.end(), folded.begin(), folded.end());
      const std::string description = describe(replaced);
      mm.domain = kMicrosoftDomain;
      mm.op_type = "FusedMatMul";
      mm.opset = 1;
      mm.inputs = {operands[0], operands[1]};
      mm.set_attr_int("transA", trans[0] ? 1 : 0);
      mm.set_attr_int("transB", trans[1] ? 1 : 0);
      mm.set_attr_float("alpha", alpha);
      // A folded scale node comes after the MatMul: the fused node takes its output (its slot needs no move:
      // every reader of the scaled value comes after the scale, which comes after the MatMul's operands).
      mm.outputs[0] = output;
      note(fusion::node_text(mm) + " <- " + description);
      removed.insert(removed.end(), folded.begin(), folded.end());
    }
    if (removed.empty()) return false;
    std::erase_if(graph.nodes, [&](const std::unique_ptr<Node>& n) {
      return std::find(removed.begin(), removed.end(), n.get()) != removed.end();
    });
    graph.sort_topologically();  // readers of the scaled output may sit between the MatMul and the scale
    return true;
  }

 private:
  // The Transpose producing `value` (read only here) when it swaps exactly the last two dims.
  const Node* last_two_swap(const std::string& value) const {
    const Node* t = index_.private_producer(value);
    if (t == nullptr || !is_onnx_op(*t, "Transpose")) return nullptr;
    const std::vector<int64_t> perm = t->attr_ints("perm");
    const auto rank = static_cast<int64_t>(perm.size());
    if (rank < 2 || perm[rank - 1] != rank - 2 || perm[rank - 2] != rank - 1) return nullptr;
    for (int64_t i = 0; i + 2 < rank; ++i) {
      if (perm[i] != i) return nullptr;
    }
    return t;
  }

  bool float_operands(const std::string& a, const std::string& b) const {
    for (const std::string& v : {a, b}) {
      const TypeInfo* t = graph_->find_type(v);
      if (t == nullptr || !t->is_tensor() || t->elem_type != DType::kFloat || !t->shape || t->shape->size() < 2) {
        return false;
      }
    }
    return true;
  }

  static std::string describe(const std::vector<const Node*>& nodes) {
    std::string text;
    for (const Node* n : nodes) text += (text.empty() ? "" : ", ") + fusion::node_text(*n);
    return text;
  }

  Graph* graph_ = nullptr;
  fusion::GraphIndex index_;
};

}  // namespace

std::unique_ptr<GraphPass> make_matmul_transpose_fusion() { return std::make_unique<MatMulTransposeFusion>(); }

}  // namespace tessera
