#include "quantize/value_capture.h"

#include <set>

#include "base/error.h"
#include "passes/fusion_utils.h"

namespace tessera::quantize {

ValueCapture::ValueCapture(Model model, const std::vector<std::string>& values, OptimizationLevel level, int threads) {
  Graph& graph = *model.graph;
  fusion::infer_types(graph);
  std::set<std::string> outputs;
  for (const ValueInfo& out : graph.outputs) outputs.insert(out.name);
  for (const std::string& name : values) {
    const TypeInfo* type = graph.find_type(name);
    check_argument(type != nullptr && type->is_tensor() && type->elem_type == DType::kFloat, "cannot capture '", name,
                   "': not a float32 tensor of the graph");
    if (outputs.insert(name).second) graph.outputs.push_back({name, *type});
  }
  for (const ValueInfo& out : graph.outputs) output_names_.push_back(out.name);
  SessionOptions options;
  options.optimization_level = level;
  options.intra_op_threads = threads;
  session_ = std::make_unique<Session>(std::move(model), options);
}

std::map<std::string, Tensor> ValueCapture::run(const Feeds& feeds) const {
  const std::vector<RuntimeValue> values = session_->run(feeds);
  std::map<std::string, Tensor> by_name;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_tensor()) by_name[output_names_[i]] = values[i].tensor();
  }
  for (const auto& feed : feeds) {
    if (feed.second.is_tensor()) by_name[feed.first] = feed.second.tensor();
  }
  return by_name;
}

Tensor ValueCapture::first_output(const Feeds& feeds) const {
  const std::vector<RuntimeValue> values = session_->run(feeds);
  check_argument(!values.empty() && values[0].is_tensor(), "the model's first output is not a tensor");
  return values[0].tensor();
}

}  // namespace tessera::quantize
