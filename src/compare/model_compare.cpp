#include "compare/model_compare.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <set>
#include <string_view>

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "onnx/model_loader.h"
#include "ops/pool/pool_common.h"
#include "passes/fusion_utils.h"

namespace tessera {

namespace {

std::string op_name(const Node& node) { return node.domain.empty() ? node.op_type : node.domain + "." + node.op_type; }

// The elements of a numeric or bool tensor as doubles.
std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = std::abs(t.data<T>()[i]);  // magnitude
    } else if constexpr (std::is_same_v<T, std::string>) {
      fail(ErrorCode::kInvalidArgument, "string tensors have no numeric value");
    } else if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<bool>()[i] ? 1.0 : 0.0;
    } else {
      for (size_t i = 0; i < out.size(); ++i) out[i] = element_to_double(t.data<T>()[i]);
    }
  });
  return out;
}

void diff_tensors(const Tensor& a, const Tensor& b, double rtol, double atol, ValueDiff& d) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) {
    d.diverges = true;
    d.note = a.description() + " vs " + b.description();
    return;
  }
  if (a.dtype() == DType::kString) {
    for (int64_t i = 0; i < a.element_count(); ++i) {
      if (a.data<std::string>()[i] != b.data<std::string>()[i]) {
        d.diverges = true;
        d.note = "strings differ at element " + std::to_string(i);
        return;
      }
    }
    return;
  }
  const std::vector<double> x = as_doubles(a), y = as_doubles(b);
  bool nan_mismatch = false;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool xn = std::isnan(x[i]), yn = std::isnan(y[i]);
    if (xn || yn) {
      nan_mismatch |= xn != yn;
      continue;
    }
    if (std::isinf(x[i]) || std::isinf(y[i])) {
      if (x[i] != y[i]) d.max_abs = std::numeric_limits<double>::infinity();
      continue;
    }
    d.ref_max = std::max(d.ref_max, std::fabs(x[i]));
    d.max_abs = std::max(d.max_abs, std::fabs(x[i] - y[i]));
  }
  d.relative = d.max_abs / std::max(d.ref_max, 1e-30);
  d.diverges = nan_mismatch || d.max_abs > atol + rtol * d.ref_max;
  if (nan_mismatch) d.note = "NaN on one side only";
}

}  // namespace

CapturingSession::CapturingSession(const CompareSide& side) {
  Model model = load_model(side.model_path);
  Graph& graph = *model.graph;
  for (const auto& node : graph.nodes) {
    if (!fusion::is_onnx_op(*node, "QuantizeLinear") || node->inputs.size() < 2 || node->outputs.size() != 1) continue;
    const Tensor* scale = fusion::constant_tensor(graph, node->inputs[1]);
    const Tensor* zp = node->has_input(2) ? fusion::constant_tensor(graph, node->inputs[2]) : nullptr;
    if (scale == nullptr || scale->dtype() != DType::kFloat || scale->element_count() != 1) continue;
    if (node->has_input(2) && (zp == nullptr || zp->element_count() != 1)) continue;
    dequantize_[node->outputs[0]] = {node->inputs[0], scale->data<float>()[0], zp ? as_doubles(*zp)[0] : 0.0};
  }
  optimize_graph(graph, side.options.optimization_level, side.options.disabled_passes);
  fusion::infer_types(graph);
  constexpr std::string_view kSuffix = "_nhwc";
  for (const auto& node : graph.nodes) {
    if (node->domain != kTesseraDomain || node->op_type != "NhwcConv" || node->attr_int("nchw_output", 0) != 0)
      continue;
    const std::string& out = node->outputs[0];
    if (out.size() <= kSuffix.size() || out.compare(out.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    const std::string original = out.substr(0, out.size() - kSuffix.size());
    if (!graph.defines(original)) channels_last_[out] = original;
  }
  for (const ValueInfo& in : graph.inputs) {
    inputs_.push_back({in.name, in.type});
    if (graph.initializers.count(in.name)) defaulted_.push_back(in.name);
  }
  std::set<std::string> outputs;
  for (const ValueInfo& out : graph.outputs) outputs.insert(out.name);
  for (const auto& node : graph.nodes) {
    for (const std::string& out : node->outputs) {
      if (out.empty()) continue;
      const TypeInfo* type = graph.find_type(out);
      if (type != nullptr && type->kind != TypeInfo::Kind::kTensor && type->kind != TypeInfo::Kind::kUnknown) continue;
      node_of_[out] = node->name;
      op_of_[out] = op_name(*node);
      order_.push_back(out);
      if (outputs.insert(out).second) graph.outputs.push_back({out, type ? *type : TypeInfo{}});
    }
  }
  for (const ValueInfo& out : graph.outputs) captured_.push_back(out.name);
  SessionOptions options = side.options;
  options.optimization_level = OptimizationLevel::kDisabled;  // optimized above, with the intermediates unexposed
  options.disabled_passes.clear();
  session_ = std::make_unique<Session>(std::move(model), options);
}

CapturedRun CapturingSession::run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const {
  const std::vector<RuntimeValue> values = session_->run(feeds);
  CapturedRun run;
  for (size_t i = 0; i < captured_.size(); ++i) {
    if (values[i].is_tensor() && !values[i].is_optional()) run.values[captured_[i]] = values[i].tensor();
  }
  for (const std::string& name : order_) {
    if (!run.values.count(name)) continue;
    run.order.push_back(name);
    run.node_of[name] = node_of_.at(name);
    run.op_of[name] = op_of_.at(name);
    // A channels-last value stands for its NCHW original, transposed back.
    auto last = channels_last_.find(name);
    if (last != channels_last_.end() && !run.values.count(last->second)) {
      const Tensor& y = run.values.at(name);
      if (y.dtype() == DType::kFloat && y.rank() == 4) {
        SerialParallelism serial;
        const std::string& original = last->second;
        run.values[original] = channels_last_to_first(y, serial);
        run.order.push_back(original);
        run.node_of[original] = node_of_.at(name);
        run.op_of[original] = op_of_.at(name) + " (channels-last)";
      }
    }
    // A quantized value whose float original this graph no longer computes stands for it, dequantized.
    auto alias = dequantize_.find(name);
    if (alias == dequantize_.end() || run.values.count(alias->second.source)) continue;
    const Tensor& q = run.values.at(name);
    if (q.dtype() != DType::kInt8 && q.dtype() != DType::kUint8) continue;
    const std::vector<double> levels = as_doubles(q);
    Tensor x(DType::kFloat, q.shape());
    for (size_t i = 0; i < levels.size(); ++i) {
      x.data<float>()[i] = static_cast<float>(levels[i] - alias->second.zero_point) * alias->second.scale;
    }
    const std::string& source = alias->second.source;
    run.values[source] = std::move(x);
    run.order.push_back(source);
    run.node_of[source] = node_of_.at(name);
    run.op_of[source] = op_of_.at(name) + " (dequantized)";
  }
  for (auto it = run.values.begin(); it != run.values.end();) {
    it = run.node_of.count(it->first) ? std::next(it) : run.values.erase(it);  // graph outputs that are inputs
  }
  return run;
}

ModelComparison compare_runs(const CapturedRun& a, const CapturedRun& b, double rtol, double atol) {
  ModelComparison result;
  for (const std::string& name : a.order) {
    auto other = b.values.find(name);
    if (other == b.values.end()) {
      ++result.only_in_a;
      continue;
    }
    ValueDiff d;
    d.value = name;
    d.node = a.node_of.at(name);
    d.op = a.op_of.at(name);
    diff_tensors(a.values.at(name), other->second, rtol, atol, d);
    if (d.diverges && result.first_divergence < 0) result.first_divergence = static_cast<int>(result.values.size());
    result.values.push_back(std::move(d));
  }
  for (const std::string& name : b.order) result.only_in_b += a.values.count(name) == 0 ? 1 : 0;
  return result;
}

}  // namespace tessera
