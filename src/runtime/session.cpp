#include "runtime/session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "base/buffer_pool.h"
#include "base/denormals.h"
#include "base/error.h"
#include "ir/shape_inference.h"
#include "onnx/model_loader.h"
#include "onnx/model_writer.h"
#include "ops/registry.h"
#include "passes/gradient_expansion.h"
#include "runtime/batch_split.h"
#include "runtime/execution_plan.h"
#include "runtime/execution_provider.h"
#include "runtime/node_observer.h"
#include "runtime/thread_pool.h"

namespace tessera {

namespace {

ShapeInferenceFn registry_inference(const Node& node) {
  const OpRegistration* entry = OpRegistry::instance().find(node.domain, node.op_type, node.opset);
  return entry ? entry->infer : ShapeInferenceFn{};
}

void infer_all(Graph& graph) {
  infer_graph_types(graph, registry_inference);
  for (auto& node : graph.nodes) {
    for (auto& [key, attr] : node->attributes) {
      if (attr.g) infer_all(*attr.g);
      for (auto& g : attr.graphs) if (g) infer_all(*g);
    }
  }
}

// Refuses, before anything runs, a value whose inferred static shape needs more than `limit` bytes (a
// ConstantOfShape asking for terabytes, say), naming the node that would produce it.
void check_inferred_sizes(const Graph& graph, uint64_t limit) {
  for (const auto& node : graph.nodes) {
    for (const std::string& out : node->outputs) {
      const TypeInfo* type = out.empty() ? nullptr : graph.find_type(out);
      if (type == nullptr || !type->has_static_shape() || type->elem_type == DType::kUndefined) continue;
      const uint64_t bytes = tensor_bytes_saturating(type->elem_type, type->static_shape());
      if (bytes > limit) {
        fail(ErrorCode::kInvalidModel, node->label(), ": output '", out, "' ", type->to_string(),
             " would need more than ", limit, " bytes, the session's max_tensor_bytes");
      }
    }
    for (const auto& [key, attr] : node->attributes) {
      if (attr.g) check_inferred_sizes(*attr.g, limit);
      for (const auto& g : attr.graphs)
        if (g) check_inferred_sizes(*g, limit);
    }
  }
}

void apply_free_dimension_overrides(Graph& graph, const std::map<std::string, int64_t>& overrides) {
  if (overrides.empty()) return;
  for (ValueInfo& input : graph.inputs) {
    if (!input.type.shape) continue;
    for (Dim& d : *input.type.shape) {
      auto it = d.is_known() ? overrides.end() : overrides.find(d.symbol);
      if (it == overrides.end()) continue;
      check_argument(it->second >= 0, "free dimension override '", it->first, "' must be >= 0, got ", it->second);
      d = Dim::known(it->second);
    }
    graph.value_types[input.name] = input.type;
  }
}

// Refuses a model whose subgraphs nest deeper than `limit` (the main graph is depth 0), naming the node.
void check_graph_depth(const Graph& graph, int64_t depth, int64_t limit) {
  for (const auto& node : graph.nodes) {
    for (const auto& [key, attr] : node->attributes) {
      std::vector<const Graph*> subgraphs;
      if (attr.g) subgraphs.push_back(attr.g.get());
      for (const auto& g : attr.graphs)
        if (g) subgraphs.push_back(g.get());
      for (const Graph* g : subgraphs) {
        if (depth + 1 > limit) {
          fail(ErrorCode::kInvalidModel, node->label(), ": attribute '", key, "' holds a subgraph at depth ", depth + 1,
               ", deeper than the session's max_graph_depth (", limit, ")");
        }
        check_graph_depth(*g, depth + 1, limit);
      }
    }
  }
}

void check_model_size(uint64_t bytes, const std::string& what, uint64_t limit) {
  if (bytes > limit) {
    fail(ErrorCode::kInvalidModel, what, " is ", bytes, " bytes, more than the session's max_model_bytes (", limit,
         ")");
  }
}

// Loads the model at `path` once its size is known to be within `limit`.
Model load_model_within(const std::string& path, uint64_t limit) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
    check_model_size(static_cast<uint64_t>(info.st_size), "the model file '" + path + "'", limit);
  }
  return load_model(path);  // reports missing files, folders and devices
}

// A tensor whose storage something else still holds (an initializer, a packed constant's source, a caller's feed,
// another output) is replaced by a copy, so the caller may write into what run returns. Outputs computed by the
// run own their storage alone and are handed over without a copy.
void detach_shared_storage(Tensor& tensor) {
  if (tensor.storage() != nullptr && tensor.storage().use_count() > 1) tensor = tensor.clone();
}

void detach_shared_outputs(std::vector<RuntimeValue>& outputs) {
  for (RuntimeValue& value : outputs) {
    if (value.is_tensor()) detach_shared_storage(value.tensor());
    for (Tensor& element : value.sequence_tensors()) detach_shared_storage(element);
  }
}

}  // namespace

Session::Session(const std::string& path, SessionOptions options)
    : options_(std::move(options)), model_(load_model_within(path, options_.limits.max_model_bytes)) {
  initialize();
}

Session::Session(Model model, SessionOptions options) : options_(std::move(options)), model_(std::move(model)) {
  initialize();
}

Session Session::from_bytes(const std::string& bytes, SessionOptions options, const std::string& model_dir) {
  check_model_size(bytes.size(), "the serialized model", options.limits.max_model_bytes);
  return Session(load_model_from_bytes(bytes, model_dir), std::move(options));
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

void Session::initialize() {
  Graph& graph = *model_.graph;
  check_graph_depth(graph, 0, options_.limits.max_graph_depth);
  apply_free_dimension_overrides(graph, options_.free_dimension_overrides);
  for (const ValueInfo& in : graph.inputs) inputs_.push_back({in.name, in.type});
  for (const ValueInfo& out : graph.outputs) outputs_.push_back({out.name, out.type});
  providers_.push_back(std::make_shared<CpuExecutionProvider>(options_.matmul_precision));
  // Gradient nodes become the graph that computes them before any kernel is chosen.
  const auto onnx_opset = model_.opset_imports.find(kOnnxDomain);
  expand_gradients(graph, onnx_opset != model_.opset_imports.end() ? onnx_opset->second : 1);

  std::vector<std::string> unsupported = find_unsupported_nodes(graph, providers_);
  if (!unsupported.empty()) {
    std::string list;
    for (size_t i = 0; i < unsupported.size() && i < 20; ++i) list += "\n  " + unsupported[i];
    if (unsupported.size() > 20) list += "\n  ... and " + std::to_string(unsupported.size() - 20) + " more";
    fail(ErrorCode::kUnsupported, "the model uses ", unsupported.size(), " node(s) Tessera cannot run:", list);
  }
  pass_reports_ = optimize_graph(graph, options_.optimization_level, options_.disabled_passes);
  infer_all(graph);
  check_inferred_sizes(graph, options_.limits.max_tensor_bytes);
  if (!options_.optimized_model_filepath.empty()) save_model(model_, options_.optimized_model_filepath);
  // Before the plan releases packed weights: the analysis reads the constants' shapes.
  if (options_.split_batch) {
    split_batch_symbol_ = batch_split_symbol(graph, &why_batch_is_not_split_);
    if (!split_batch_symbol_.empty()) {
      const BatchItemCost cost = batch_item_cost(graph);
      if (cost.bytes < kSplitBatchMinItemBytes) {
        why_batch_is_not_split_ = "small items: " + std::to_string(static_cast<int64_t>(cost.bytes)) +
                                  " bytes of intermediates each (a whole batch stays in the caches)";
      } else if (cost.intensity() >= kSplitBatchMaxIntensity) {
        why_batch_is_not_split_ = "compute-bound: " + std::to_string(cost.intensity()) +
                                  " multiply-adds per byte of intermediates (its GEMMs gain from the whole batch)";
      }
      if (!why_batch_is_not_split_.empty()) split_batch_symbol_.clear();
    }
  } else {
    why_batch_is_not_split_ = "SessionOptions::split_batch is off";
  }
  for (const IoInfo& in : inputs_) {
    batched_input_.push_back(!split_batch_symbol_.empty() && graph.initializers.count(in.name) == 0);
  }
  // Weights that kernels packed into their own layout are released as the plan is built: only the packed copy
  // stays (the original and the packed copy of every BERT-base MatMul weight were both kept before).
  plan_ = std::make_unique<ExecutionPlan>(graph, providers_, ConstantRelease::kReleaseConsumed);
  plan_->enable_memory_pattern(options_.memory_pattern);
  pool_ = std::make_unique<ThreadPool>(options_.intra_op_threads, options_.denormals_as_zero);
  // Buffers freed while loading, folding and packing weights would otherwise wait in the cache for a size
  // no run asks for.
  buffer_pool::trim();
}

Session::BufferPoolTrimmer::~BufferPoolTrimmer() { buffer_pool::trim(); }

namespace {
// A feed declared as a map or a sequence of maps: the kind, the key type and the value type must match.
void check_map_feed(const IoInfo& declared, const RuntimeValue& value) {
  const bool wants_map = declared.type.kind == TypeInfo::Kind::kMap;
  const TypeInfo& map_type = wants_map ? declared.type : *declared.type.element;
  const DType value_type = map_type.element ? map_type.element->elem_type : DType::kUndefined;
  const bool kind_matches = wants_map ? value.is_map() : value.is_map_sequence();
  if (!kind_matches || value.is_optional() || value.element_type() != map_type.elem_type ||
      (value_type != DType::kUndefined && value.map_value_type() != value_type)) {
    fail(ErrorCode::kInvalidArgument, "input '", declared.name, "' expects ", declared.type.to_string(), ", got ",
         value.description());
  }
}
}  // namespace

void check_feed(const IoInfo& declared, const RuntimeValue& value) {
  const TypeInfo& type = declared.type;
  // The message names the input; it is built only when a check fails (feeds are checked on every run).
  if (type.kind == TypeInfo::Kind::kTensor) {
    if (!value.is_tensor() || value.is_optional()) {
      fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects a tensor ", type.to_string(), ", got ", value.description());
    }
    const Tensor& t = value.tensor();
    if (type.elem_type != DType::kUndefined && t.dtype() != type.elem_type) {
      fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects element type ", dtype_name(type.elem_type), ", got ",
           t.description());
    }
    if (type.shape) {
      if (t.rank() != type.shape->size()) {
        fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects rank ", type.shape->size(), " (", type.to_string(), "), got ",
             t.description());
      }
      for (size_t i = 0; i < t.rank(); ++i) {
        const Dim& d = (*type.shape)[i];
        if (d.is_known() && d.value != t.dim(i)) {
          fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects dimension ", i, " to be ", d.value, " (", type.to_string(),
               "), got ", t.description());
        }
      }
    }
  } else if (type.kind == TypeInfo::Kind::kMap ||
             (type.kind == TypeInfo::Kind::kSequence && type.element && type.element->kind == TypeInfo::Kind::kMap)) {
    check_map_feed(declared, value);
  } else if (type.kind == TypeInfo::Kind::kSequence) {
    if (!value.is_sequence() || value.is_optional()) {
      fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects a sequence ", type.to_string(), ", got ", value.description());
    }
  } else if (type.kind == TypeInfo::Kind::kOptional) {
    if (!value.is_optional() && value.is_none()) {
      fail(ErrorCode::kInvalidArgument, "input '", declared.name, "'", " expects an optional value, got ", value.description());
    }
  }
}

std::vector<RuntimeValue> Session::order_feeds(const std::vector<std::pair<std::string, RuntimeValue>>& feeds) const {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < inputs_.size(); ++i) index[inputs_[i].name] = i;
  std::vector<RuntimeValue> ordered(inputs_.size());
  std::vector<bool> given(inputs_.size(), false);
  for (const auto& [name, value] : feeds) {
    auto it = index.find(name);
    if (it == index.end()) {
      std::string names;
      for (const IoInfo& in : inputs_) names += (names.empty() ? "" : ", ") + in.name;
      fail(ErrorCode::kInvalidArgument, "the model has no input named '", name, "' (inputs: ", names, ")");
    }
    if (given[it->second]) fail(ErrorCode::kInvalidArgument, "input '", name, "' is fed twice");
    check_feed(inputs_[it->second], value);
    ordered[it->second] = value;
    given[it->second] = true;
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const bool has_default = model_.graph->initializers.count(inputs_[i].name) != 0;
    const bool is_optional_type = inputs_[i].type.kind == TypeInfo::Kind::kOptional;
    if (!given[i] && !has_default && !is_optional_type) {
      fail(ErrorCode::kInvalidArgument, "input '", inputs_[i].name, "' (", inputs_[i].type.to_string(), ") is not fed");
    }
  }
  return ordered;
}

std::vector<RuntimeValue> Session::run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                                       const std::vector<std::string>& output_names) const {
  return run(feeds, output_names, RunControl{});
}

std::vector<RuntimeValue> Session::run(const std::vector<std::pair<std::string, RuntimeValue>>& feeds,
                                       const std::vector<std::string>& output_names, const RunControl& control) const {
  std::vector<RuntimeValue> ordered = order_feeds(feeds);
  const ScopedDenormalsAsZero denormals(options_.denormals_as_zero);
  const RunGuard guard(options_.limits, control.terminate, control.timeout_ms);
  const int64_t items = batch_items(ordered);
  const int64_t threads = pool_->thread_count();
  const int64_t slice = items % threads == 0 ? threads : 1;
  std::vector<RuntimeValue> all = items > slice ? run_in_slices(ordered, items, slice, guard, control)
                                                : plan_->run(ordered, ValueLookup{}, *pool_, guard, control.observer);
  if (output_names.empty()) {
    detach_shared_outputs(all);
    return all;
  }
  std::vector<RuntimeValue> selected;
  for (const std::string& name : output_names) {
    size_t i = 0;
    while (i < outputs_.size() && outputs_[i].name != name) ++i;
    if (i == outputs_.size()) fail(ErrorCode::kInvalidArgument, "the model has no output named '", name, "'");
    selected.push_back(all[i]);
  }
  all.clear();  // so that only what the caller gets (and what the session or the feeds hold) shares storage
  detach_shared_outputs(selected);
  return selected;
}

std::shared_ptr<const MemoryPlan> Session::memory_plan() const { return plan_->memory_plan(); }

int64_t Session::batch_items(const std::vector<RuntimeValue>& ordered) const {
  if (split_batch_symbol_.empty()) return 0;
  int64_t items = -1;
  for (size_t i = 0; i < ordered.size(); ++i) {
    if (!batched_input_[i]) continue;
    const RuntimeValue& value = ordered[i];
    // A tensor of no elements runs whole (nothing to gain; its storage may be absent).
    if (!value.is_tensor() || value.is_optional() || value.tensor().rank() == 0 || value.tensor().element_count() == 0)
      return 0;
    const int64_t first = value.tensor().dim(0);
    if (items >= 0 && first != items) return 0;  // run whole: the kernels report the mismatch
    items = first;
  }
  return std::max<int64_t>(items, 0);
}

namespace {

// Items [begin, begin + count) of `t` (first dimension), sharing its memory.
Tensor item_view(const Tensor& t, int64_t begin, int64_t count) {
  std::vector<int64_t> shape = t.shape();
  const size_t item_bytes = shape[0] == 0 ? 0 : t.byte_size() / static_cast<size_t>(shape[0]);
  shape[0] = count;
  const size_t offset =
      static_cast<size_t>(static_cast<const char*>(t.raw_data()) - static_cast<const char*>(t.storage()->data())) +
      static_cast<size_t>(begin) * item_bytes;
  return Tensor(t.dtype(), std::move(shape), t.storage(), offset);
}

}  // namespace

std::vector<RuntimeValue> Session::run_in_slices(const std::vector<RuntimeValue>& ordered, int64_t items, int64_t slice,
                                                 const RunGuard& guard, const RunControl& control) const {
  std::vector<Tensor> outputs;  // allocated from the first slice's outputs
  std::vector<RuntimeValue> feeds = ordered;
  for (int64_t begin = 0; begin < items; begin += slice) {
    for (size_t i = 0; i < ordered.size(); ++i) {
      if (batched_input_[i]) feeds[i] = item_view(ordered[i].tensor(), begin, slice);
    }
    std::vector<RuntimeValue> part = plan_->run(feeds, ValueLookup{}, *pool_, guard, control.observer);
    for (size_t k = 0; k < part.size(); ++k) {
      // The analysis keeps the first dimension as the item index of every output (batch_split.h).
      check_argument(part[k].is_tensor() && part[k].tensor().rank() >= 1 && part[k].tensor().dim(0) == slice &&
                         part[k].tensor().dtype() != DType::kString,
                     "batch split: output '", outputs_[k].name, "' of a run over ", slice, " items is ",
                     part[k].description());
      const Tensor& piece = part[k].tensor();
      if (begin == 0) {
        std::vector<int64_t> shape = piece.shape();
        shape[0] = items;
        outputs.push_back(Tensor::uninitialized(piece.dtype(), std::move(shape)));
      }
      check_argument(
          outputs[k].byte_size() == piece.byte_size() / static_cast<size_t>(slice) * static_cast<size_t>(items),
          "batch split: output '", outputs_[k].name, "' changed shape between runs: ", piece.description());
      std::memcpy(static_cast<char*>(outputs[k].raw_data()) + static_cast<size_t>(begin) * (piece.byte_size() / slice),
                  piece.raw_data(), piece.byte_size());
    }
  }
  return std::vector<RuntimeValue>(outputs.begin(), outputs.end());
}

}  // namespace tessera
