#include "native_session.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <type_traits>

#include "base/error.h"
#include "numpy_conversion.h"
#include "passes/pass.h"

namespace nb = nanobind;

namespace tessera::python {

namespace {

// The dtype code _session.py passes for a map feed (a dict), whose "array" is map_from_python's tuple.
constexpr int32_t kMapFeedCode = -1;

// onnxruntime's spelling of a type: "tensor(float)", "seq(tensor(int64))", "optional(tensor(float))".
std::string ort_type_string(const TypeInfo& type) {
  switch (type.kind) {
    case TypeInfo::Kind::kTensor:
      return "tensor(" + dtype_name(type.elem_type) + ")";
    case TypeInfo::Kind::kSparseTensor:
      return "sparse_tensor(" + dtype_name(type.elem_type) + ")";
    case TypeInfo::Kind::kSequence:
      return "seq(" + (type.element ? ort_type_string(*type.element) : "unknown") + ")";
    case TypeInfo::Kind::kOptional:
      return "optional(" + (type.element ? ort_type_string(*type.element) : "unknown") + ")";
    case TypeInfo::Kind::kMap:
      return "map(" + dtype_name(type.elem_type) + "," + (type.element ? ort_type_string(*type.element) : "unknown") +
             ")";
    case TypeInfo::Kind::kUnknown:
      break;
  }
  return "unknown";
}

// Shape as onnxruntime reports it: ints for known dims, the symbol for named ones, None for unnamed unknowns.
nb::list ort_shape(const TypeInfo& type) {
  nb::list shape;
  if (!type.shape) return shape;
  for (const Dim& d : *type.shape) {
    if (d.is_known())
      shape.append(d.value);
    else if (!d.symbol.empty())
      shape.append(nb::str(d.symbol.c_str()));
    else
      shape.append(nb::none());
  }
  return shape;
}

SessionOptions session_options(const nb::dict& options) {
  SessionOptions result;
  if (options.contains("intra_op_num_threads"))
    result.intra_op_threads = nb::cast<int>(options["intra_op_num_threads"]);
  if (options.contains("optimization_level")) {
    result.optimization_level = parse_optimization_level(nb::cast<std::string>(options["optimization_level"]));
  }
  if (options.contains("free_dimension_overrides")) {
    for (auto [key, value] : nb::cast<nb::dict>(options["free_dimension_overrides"])) {
      result.free_dimension_overrides[nb::cast<std::string>(key)] = nb::cast<int64_t>(value);
    }
  }
  if (options.contains("optimized_model_filepath")) {
    result.optimized_model_filepath = nb::cast<std::string>(options["optimized_model_filepath"]);
  }
  const auto limit = [&](const char* key, auto& field) {
    if (options.contains(key)) field = nb::cast<std::remove_reference_t<decltype(field)>>(options[key]);
  };
  limit("max_tensor_bytes", result.limits.max_tensor_bytes);
  limit("max_loop_iterations", result.limits.max_loop_iterations);
  limit("max_graph_depth", result.limits.max_graph_depth);
  limit("max_model_bytes", result.limits.max_model_bytes);
  limit("max_live_bytes", result.limits.max_live_bytes);
  if (options.contains("denormals_as_zero")) result.denormals_as_zero = nb::cast<bool>(options["denormals_as_zero"]);
  if (options.contains("memory_pattern")) result.memory_pattern = nb::cast<bool>(options["memory_pattern"]);
  if (options.contains("split_batch")) result.split_batch = nb::cast<bool>(options["split_batch"]);
  if (options.contains("matmul_precision") && nb::cast<std::string>(options["matmul_precision"]) == "bf16") {
    result.matmul_precision = MatMulPrecision::kBFloat16;
  }
  if (options.contains("disabled_passes")) {
    result.disabled_passes = nb::cast<std::vector<std::string>>(options["disabled_passes"]);
  }
  return result;
}

}  // namespace

NativeSession::NativeSession(nb::handle source, const nb::dict& options) {
  SessionOptions parsed = session_options(options);
  if (PyBytes_Check(source.ptr())) {
    std::string bytes(PyBytes_AS_STRING(source.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(source.ptr())));
    nb::gil_scoped_release release;
    session_ = std::make_unique<Session>(Session::from_bytes(bytes, std::move(parsed)));
  } else {
    const std::string path = nb::cast<std::string>(nb::str(source));
    nb::gil_scoped_release release;
    session_ = std::make_unique<Session>(path, std::move(parsed));
  }
  if (options.contains("enable_profiling") && nb::cast<bool>(options["enable_profiling"])) {
    profiler_ = std::make_unique<Profiler>();
    profiling_ = true;
  }
}

nb::list NativeSession::describe(const std::vector<IoInfo>& infos, bool initializers) const {
  nb::list out;
  const auto& graph_initializers = session_->model().graph->initializers;
  for (const IoInfo& info : infos) {
    if (initializers != (graph_initializers.count(info.name) != 0)) continue;
    out.append(nb::make_tuple(info.name, ort_type_string(info.type), ort_shape(info.type)));
  }
  return out;
}

nb::list NativeSession::inputs() const { return describe(session_->inputs(), false); }
nb::list NativeSession::overridable_initializers() const { return describe(session_->inputs(), true); }

nb::list NativeSession::outputs() const {
  nb::list out;
  const Graph& graph = *session_->model().graph;
  for (const IoInfo& info : session_->outputs()) {
    // An output declared without a shape reports what inference found, as onnxruntime does.
    const TypeInfo* inferred = info.type.shape ? nullptr : graph.find_type(info.name);
    const TypeInfo& type = inferred != nullptr ? *inferred : info.type;
    out.append(nb::make_tuple(info.name, ort_type_string(type), ort_shape(type)));
  }
  return out;
}

nb::dict NativeSession::metadata() const {
  const Model& model = session_->model();
  nb::dict meta;
  meta["producer_name"] = model.producer_name;
  meta["graph_name"] = model.graph->name;
  meta["domain"] = model.domain;
  meta["description"] = model.doc_string;
  meta["graph_description"] = std::string();
  meta["version"] = model.model_version;
  nb::dict custom;
  for (const auto& [key, value] : model.metadata) custom[nb::str(key.c_str())] = value;
  meta["custom_metadata_map"] = custom;
  return meta;
}

nb::list NativeSession::run(const std::vector<std::string>& names, const nb::list& arrays,
                            const std::vector<int32_t>& dtypes, const std::vector<std::string>& output_names,
                            const TerminateFlag* terminate, int64_t timeout_ms) const {
  const size_t count = names.size();
  if (nb::len(arrays) != count || dtypes.size() != count) {
    fail(ErrorCode::kInvalidArgument, "run: ", count, " names, ", nb::len(arrays), " arrays and ", dtypes.size(),
         " dtypes");
  }
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  feeds.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (dtypes[i] == kMapFeedCode) {
      feeds.emplace_back(names[i], map_from_python(names[i], arrays[i]));
    } else {
      feeds.emplace_back(names[i], tensor_from_array(names[i], arrays[i], static_cast<DType>(dtypes[i])));
    }
  }
  std::vector<RuntimeValue> outputs;
  {
    nb::gil_scoped_release release;
    RunControl control;
    control.terminate = terminate != nullptr ? &terminate->value : nullptr;
    control.timeout_ms = timeout_ms;
    if (profiling_.load(std::memory_order_relaxed)) {
      Profiler::RunRecorder recorder = profiler_->start_run();
      control.observer = &recorder;
      outputs = session_->run(feeds, output_names, control);
      profiler_->finish_run(std::move(recorder));
    } else {
      outputs = session_->run(feeds, output_names, control);
    }
  }
  nb::list results;
  for (RuntimeValue& value : outputs) results.append(value_to_python(std::move(value)));
  return results;
}

void NativeSession::end_profiling(const std::string& path) {
  if (!profiling_.exchange(false)) {
    fail(ErrorCode::kInvalidArgument, "profiling is not on for this session (SessionOptions.enable_profiling)");
  }
  profiler_->write(path);
}

}  // namespace tessera::python
