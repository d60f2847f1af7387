// QDQ groups -> QLinearConv / QLinearMatMul / com.microsoft QGemm (extended level; ONNX Runtime's QDQ selectors for
// Conv, MatMul and Gemm):
// static INT8 models in the QDQ format (onnxruntime's quantize_static, `tessera quantize --mode static`) wrap each
// float op in DequantizeLinear / QuantizeLinear pairs,
//
//   y_q = Q(Conv(DQ(x_q, xs, xz), DQ(w_q, ws, wz), DQ(b_q, xs * ws, 0)), ys, yz)   [ Relu/Clip before the Q ]
//   y_q = Q(MatMul(DQ(a_q, as, az), DQ(b_q, bs, bz)), ys, yz)
//   y_q = Q(Gemm(DQ(a_q, as, az), DQ(b_q, bs, bz), bias), ys, yz)          [ transA 0, alpha and beta 1 ]
//
// and the group becomes QLinearConv(x_q, xs, xz, w_q, ws, wz, ys, yz, b_q) / QLinearMatMul(a_q, as, az, b_q, bs, bz,
// ys, yz): the integer GEMM accumulates exactly and rounds once, where the float graph rounds the float result;
// the two agree within one quantization step (most elements exactly).
//
// Conditions: every scale and zero point constant, scales positive and finite (weight scales may be 0); the
// activation's and the output's quantization per tensor; x_q int8/uint8 (known from its zero point or its type);
// Conv weights a constant int8/uint8 tensor quantized per tensor or per output channel (axis 0); a Conv bias a
// constant int32 vector dequantized with zero point 0 and scale xs * ws (per channel, the float product, compared
// exactly), as quantize_static writes it, or a constant float vector (quantized here to int32 with that scale, as
// ONNX Runtime's QDQ transformer does); MatMul's B a constant int8/uint8 matrix quantized per tensor or per
// column (axis 1 of a 2-D B); Q with a zero point; the Conv/MatMul output (and the activation's) read only by the
// group. A Relu, or a Clip with constant bounds, between the op and the Q is taken in only when it changes no
// quantized value: Q(lo) is the type's minimum (yz = qmin for Relu) and Q(hi) its maximum (or no upper bound);
// then Q(clip(y)) == Q(y) exactly, as Q is monotonic. Everything else stays, and the remaining Q/DQ pairs run as
// elementwise ops.
//
// The pass runs before constant_folding: folding would turn the weight and bias DequantizeLinear nodes (inputs all
// constant) into float initializers and hide the integers this fusion needs.
#include <algorithm>
#include <cmath>
#include <limits>

#include "passes/fusion_utils.h"
#include "passes/pass.h"

namespace tessera {

namespace {

using fusion::dequantize_of;
using fusion::is_onnx_op;
using fusion::QParams;
using fusion::quant_params;

bool is_q8(DType d) { return d == DType::kInt8 || d == DType::kUint8; }

// QuantizeLinear's value for v, as its kernels compute it.
int32_t quantize_value(float v, float scale, int32_t zero_point, DType type) {
  const float lo = type == DType::kInt8 ? -128.0f : 0.0f, hi = type == DType::kInt8 ? 127.0f : 255.0f;
  const float q = v / scale;
  if (std::isnan(q)) return zero_point;
  return static_cast<int32_t>(std::clamp(static_cast<double>(std::nearbyint(q)) + zero_point, double{lo}, double{hi}));
}

// The int8/uint8 type of the quantized tensor a DQ reads: its zero point's type, else the value's known type.
DType quantized_type(const Graph& graph, const QParams& dq) {
  if (dq.zp_t != nullptr) return dq.zp_t->dtype();
  const TypeInfo* t = graph.find_type(dq.node->inputs[0]);
  return t != nullptr && t->is_tensor() ? t->elem_type : DType::kUndefined;
}

class QdqFusion final : public GraphPass {
 public:
  std::string name() const override { return "qdq_fusion"; }
  OptimizationLevel level() const override { return OptimizationLevel::kExtended; }

  bool run(Graph& graph) override {
    // Matched first and replaced after, so the index never points at a replaced node; the int32 biases this run
    // quantized join the initializers after.
    const bool changed = fusion::rewrite_quantize_linears(
        graph, [&](const fusion::GraphIndex& index, const Node& q, std::vector<const Node*>& removed) {
          return match(graph, index, q, removed);
        });
    for (auto& [name, tensor] : added_) graph.initializers[name] = std::move(tensor);
    added_.clear();
    return changed;
  }

 private:
  std::vector<std::pair<std::string, Tensor>> added_;  // int32 biases quantized by this run

  // The fused node replacing the group that ends at QuantizeLinear `q`, or nullptr.
  std::unique_ptr<Node> match(const Graph& graph, const fusion::GraphIndex& index, const Node& q,
                              std::vector<const Node*>& removed) {
    const std::optional<QParams> y = quant_params(graph, q, false);
    if (!y || !y->per_tensor() || y->zp_t == nullptr || !is_q8(y->zp_t->dtype())) return nullptr;
    const DType y_type = y->zp_t->dtype();
    Node* core = index.private_producer(q.inputs[0]);
    if (core == nullptr) return nullptr;
    Node* act = nullptr;
    if (is_onnx_op(*core, "Relu") || is_onnx_op(*core, "Clip")) {
      act = core;
      if (!activation_changes_nothing(graph, *act, *y, y_type)) return nullptr;
      core = index.private_producer(act->inputs[0]);
      if (core == nullptr) return nullptr;
    }
    if (core->outputs.size() != 1) return nullptr;
    std::unique_ptr<Node> fused;
    std::vector<const Node*> dqs;
    if (is_onnx_op(*core, "Conv")) {
      fused = match_conv(graph, index, *core, *y, dqs, added_);
    } else if (is_onnx_op(*core, "MatMul")) {
      fused = match_matmul(graph, index, *core, *y, dqs);
    } else if (is_onnx_op(*core, "Gemm") && act == nullptr) {
      fused = match_gemm(graph, index, *core, *y, dqs, added_);
    }
    if (!fused) return nullptr;
    fused->name = core->name.empty() ? q.outputs[0] + "_qdq" : core->name;
    if (fused->domain.empty()) fused->opset = q.opset;
    fused->outputs = {q.outputs[0]};
    std::vector<const Node*> group = dqs;
    group.push_back(core);
    if (act != nullptr) group.push_back(act);
    group.push_back(&q);
    note(fusion::describe_fusion(*fused, group));
    removed.push_back(core);
    if (act != nullptr) removed.push_back(act);
    // DequantizeLinear nodes read by this group alone go too (shared ones stay for their other readers).
    for (const Node* dq : dqs) {
      if (index.reads(dq->outputs[0]) == 1 && std::find(removed.begin(), removed.end(), dq) == removed.end()) {
        removed.push_back(dq);
      }
    }
    return fused;
  }

  // True when Q(act(y)) == Q(y) for every y: Q(lo) is the output type's minimum and Q(hi) its maximum.
  static bool activation_changes_nothing(const Graph& graph, const Node& act, const QParams& y, DType y_type) {
    std::string kind;
    std::vector<float> params;
    if (!fusion::activation_of(graph, act, kind, params)) return false;
    float lo = 0, hi = std::numeric_limits<float>::infinity();
    if (kind == "Clip") {
      if (params.size() != 2) return false;
      lo = params[0];
      hi = params[1];
    } else if (kind != "Relu") {
      return false;
    }
    const int32_t qmin = y_type == DType::kInt8 ? -128 : 0, qmax = y_type == DType::kInt8 ? 127 : 255;
    const float ys = y.scale_at(0);
    const int32_t yz = y.zp_at(0);
    return quantize_value(lo, ys, yz, y_type) == qmin && quantize_value(hi, ys, yz, y_type) == qmax;
  }

  // The int32 bias of a fused group from `value`, the float op's bias of `channels` elements, into `bias`; false
  // when it cannot be taken. Either the DequantizeLinear of a constant int32 vector with zero point 0 and scale
  // xs * ws (per channel, the float product, compared exactly) as quantize_static writes it (the DQ joins `dqs`),
  // or a constant float vector, quantized here to int32 with that scale, as ONNX Runtime's QDQ transformer does
  // when it makes the QLinearConv (onnxruntime's quantize_static leaves some so). `axis` is the bias DQ's axis
  // when per channel.
  static bool int32_bias(const Graph& graph, const fusion::GraphIndex& index, const std::string& value,
                         const QParams& x, const QParams& w, int64_t channels, int64_t axis, std::string& bias,
                         std::vector<const Node*>& dqs, std::vector<std::pair<std::string, Tensor>>& added) {
    const float xs = x.scale_at(0);
    const Tensor* float_bias = fusion::constant_tensor(graph, value);
    if (float_bias != nullptr && float_bias->dtype() == DType::kFloat) {
      if (float_bias->rank() != 1 || float_bias->dim(0) != channels) return false;
      Tensor b_q(DType::kInt32, {channels});
      for (int64_t m = 0; m < channels; ++m) {
        const float scale = xs * w.scale_at(w.per_tensor() ? 0 : m);
        const double v = scale > 0 ? std::nearbyint(static_cast<double>(float_bias->data<float>()[m]) / scale) : 0.0;
        if (!(std::fabs(v) < 2147483647.0)) return false;  // beyond int32 (or NaN): leave the group
        b_q.data<int32_t>()[m] = static_cast<int32_t>(v);
      }
      std::string name = value + "_quantized_int32";
      for (int k = 1; graph.defines(name); ++k) name = value + "_quantized_int32_" + std::to_string(k);
      added.emplace_back(name, std::move(b_q));
      bias = name;
      return true;
    }
    const std::optional<QParams> b = dequantize_of(graph, index, value, true);
    if (!b) return false;
    const Tensor* b_q = fusion::constant_tensor(graph, b->node->inputs[0]);
    if (b_q == nullptr || b_q->dtype() != DType::kInt32 || b_q->rank() != 1 || b_q->dim(0) != channels) return false;
    if (!b->per_tensor() && (b->count() != channels || (b->axis != axis && b->axis != -1))) return false;
    for (int64_t m = 0; m < channels; ++m) {
      // The bias scale quantize_static writes: the float product of the input's and the channel's scale.
      const float expected = xs * w.scale_at(m);
      if (b->scale_at(m) != expected || b->zp_at(m) != 0) return false;
    }
    bias = b->node->inputs[0];
    dqs.push_back(b->node);
    return true;
  }

  static std::unique_ptr<Node> match_conv(const Graph& graph, const fusion::GraphIndex& index, const Node& conv,
                                          const QParams& y, std::vector<const Node*>& dqs,
                                          std::vector<std::pair<std::string, Tensor>>& added) {
    if (conv.inputs.size() < 2) return nullptr;
    const std::optional<QParams> x = dequantize_of(graph, index, conv.inputs[0], false);
    if (!x || !x->per_tensor() || !is_q8(quantized_type(graph, *x))) return nullptr;
    const std::optional<QParams> w = dequantize_of(graph, index, conv.inputs[1], true);
    if (!w) return nullptr;
    const Tensor* w_q = fusion::constant_tensor(graph, w->node->inputs[0]);
    if (w_q == nullptr || !is_q8(w_q->dtype()) || w_q->rank() < 3) return nullptr;
    if (w->zp_t != nullptr && w->zp_t->dtype() != w_q->dtype()) return nullptr;
    const int64_t channels = w_q->dim(0);
    if (!w->per_tensor()) {
      const int64_t axis = w->axis < 0 ? w->axis + static_cast<int64_t>(w_q->rank()) : w->axis;
      if (axis != 0 || w->count() != channels) return nullptr;
    }
    std::string bias;
    if (conv.has_input(2) && !int32_bias(graph, index, conv.inputs[2], *x, *w, channels, 0, bias, dqs, added)) {
      return nullptr;
    }
    dqs.insert(dqs.begin(), {x->node, w->node});
    auto fused = std::make_unique<Node>();
    fused->op_type = "QLinearConv";
    fused->attributes = conv.attributes;
    fused->inputs = {x->node->inputs[0], x->scale,      x->zero_point, w->node->inputs[0],
                     w->scale,           w->zero_point, y.scale,       y.zero_point};
    if (!bias.empty()) fused->inputs.push_back(bias);
    return fused;
  }

  static std::unique_ptr<Node> match_matmul(const Graph& graph, const fusion::GraphIndex& index, const Node& matmul,
                                            const QParams& y, std::vector<const Node*>& dqs) {
    if (matmul.inputs.size() != 2) return nullptr;
    const std::optional<QParams> a = dequantize_of(graph, index, matmul.inputs[0], false);
    if (!a || !a->per_tensor() || !is_q8(quantized_type(graph, *a))) return nullptr;
    const std::optional<QParams> b = dequantize_of(graph, index, matmul.inputs[1], true);
    if (!b) return nullptr;
    const Tensor* b_q = fusion::constant_tensor(graph, b->node->inputs[0]);
    if (b_q == nullptr || !is_q8(b_q->dtype()) || b_q->rank() < 1) return nullptr;
    if (b->zp_t != nullptr && b->zp_t->dtype() != b_q->dtype()) return nullptr;
    if (!b->per_tensor()) {
      // Per column: a 2-D B quantized along its last axis.
      if (b_q->rank() != 2 || (b->axis != 1 && b->axis != -1) || b->count() != b_q->dim(1)) return nullptr;
    }
    dqs = {a->node, b->node};
    auto fused = std::make_unique<Node>();
    fused->op_type = "QLinearMatMul";
    fused->inputs = {a->node->inputs[0], a->scale,      a->zero_point, b->node->inputs[0],
                     b->scale,           b->zero_point, y.scale,       y.zero_point};
    return fused;
  }

  // Q(Gemm(DQ(a_q), DQ(b_q), bias)) -> com.microsoft QGemm (as ONNX Runtime's QDQ transformer): transA 0, alpha and
  // beta 1, A quantized per tensor with a zero point, B a constant 8-bit matrix with a zero point, per tensor or per
  // output column (axis 0 when transB, 1 otherwise), the bias absent or a vector of the N outputs (int32 through a
  // DQ, or float, as for Conv).
  static std::unique_ptr<Node> match_gemm(const Graph& graph, const fusion::GraphIndex& index, const Node& gemm,
                                          const QParams& y, std::vector<const Node*>& dqs,
                                          std::vector<std::pair<std::string, Tensor>>& added) {
    if (gemm.inputs.size() < 2 || gemm.attr_int("transA", 0) != 0 || gemm.attr_float("alpha", 1.0f) != 1.0f ||
        gemm.attr_float("beta", 1.0f) != 1.0f) {
      return nullptr;
    }
    const bool trans_b = gemm.attr_int("transB", 0) != 0;
    const std::optional<QParams> a = dequantize_of(graph, index, gemm.inputs[0], false);
    if (!a || !a->per_tensor() || a->zp_t == nullptr || !is_q8(a->zp_t->dtype())) return nullptr;
    const std::optional<QParams> b = dequantize_of(graph, index, gemm.inputs[1], true);
    if (!b || b->zp_t == nullptr) return nullptr;
    const Tensor* b_q = fusion::constant_tensor(graph, b->node->inputs[0]);
    if (b_q == nullptr || !is_q8(b_q->dtype()) || b_q->rank() != 2 || b->zp_t->dtype() != b_q->dtype()) {
      return nullptr;
    }
    const int64_t columns = trans_b ? b_q->dim(0) : b_q->dim(1);
    const int64_t column_axis = trans_b ? 0 : 1;
    if (!b->per_tensor()) {
      const int64_t axis = b->axis < 0 ? b->axis + 2 : b->axis;
      if (axis != column_axis || b->count() != columns) return nullptr;
    }
    std::string bias;
    std::vector<const Node*> bias_dq;
    if (gemm.has_input(2) && !int32_bias(graph, index, gemm.inputs[2], *a, *b, columns, 0, bias, bias_dq, added)) {
      return nullptr;
    }
    dqs = {a->node, b->node};
    dqs.insert(dqs.end(), bias_dq.begin(), bias_dq.end());
    auto fused = std::make_unique<Node>();
    fused->op_type = "QGemm";
    fused->domain = kMicrosoftDomain;
    fused->opset = 1;
    if (trans_b) fused->attributes["transB"] = gemm.attributes.at("transB");
    fused->inputs = {a->node->inputs[0], a->scale, a->zero_point, b->node->inputs[0], b->scale,
                     b->zero_point,      bias,     y.scale,       y.zero_point};
    return fused;
  }
};

}  // namespace

std::unique_ptr<GraphPass> make_qdq_fusion() { return std::make_unique<QdqFusion>(); }

}  // namespace tessera
