#include "serve/model_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/lazy_text.h"
#include "serve/datatype.h"
#include "serve/model_limits.h"

namespace tessera::serve {

namespace {

constexpr const char* kPlatform = "onnxruntime_onnx";
constexpr const char* kBackend = "onnxruntime";
// Triton's default for a model without a config whose every input and output has a variable first dim.
constexpr int kInferredMaxBatchSize = 4;

// Collects the parser's errors (kept) and warnings (unknown fields: printed).
class ConfigErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ConfigErrorCollector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (errors_.empty())
      errors_ = file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    std::fprintf(stderr, "tessera serve: warning: %s:%d:%d: %s (ignored)\n", file_.c_str(), line + 1, column + 1,
                 message.c_str());
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string file_;
  std::string errors_;
};

bool is_batchable(const TypeInfo& type) {
  return type.kind == TypeInfo::Kind::kTensor && type.shape && !type.shape->empty() && !type.shape->front().is_known();
}

// The dims a config lists for a model tensor: the model's dims (-1 for unknown), less the batch dim.
std::vector<int64_t> config_dims(const TypeInfo& type, bool batched) {
  std::vector<int64_t> dims;
  if (!type.shape) return dims;
  for (size_t i = batched ? 1 : 0; i < type.shape->size(); ++i) {
    dims.push_back((*type.shape)[i].is_known() ? (*type.shape)[i].value : -1);
  }
  return dims;
}

// Fills or checks one config tensor (input or output) against the model's declaration.
template <typename ConfigTensor>
void complete_tensor(ConfigTensor& tensor, const IoInfo& declared, bool batched, const std::string& what) {
  check_model(declared.type.kind == TypeInfo::Kind::kTensor, what, " is a ", declared.type.to_string(),
              " in the model; only tensors can be served");
  const DType dtype = declared.type.elem_type;
  check_model(config_datatype(dtype) != inference::TYPE_INVALID, what, " has element type ", dtype_name(dtype),
              ", which the v2 protocol cannot carry");
  if (tensor.data_type() == inference::TYPE_INVALID) tensor.set_data_type(config_datatype(dtype));
  check_model(dtype_from_config(tensor.data_type()) == dtype, what, " is ",
              inference::DataType_Name(tensor.data_type()), " in the config but ", dtype_name(dtype), " in the model");
  if (batched) {
    check_model(!declared.type.shape || is_batchable(declared.type), what, " has shape ", declared.type.to_string(),
                " in the model: max_batch_size > 0 needs a variable first dim");
  }
  const std::vector<int64_t> model_dims = config_dims(declared.type, batched);
  if (tensor.dims_size() == 0 && declared.type.shape) {
    for (int64_t d : model_dims) tensor.add_dims(d);
    return;
  }
  if (!declared.type.shape) return;
  std::vector<int64_t> dims(tensor.dims().begin(), tensor.dims().end());
  bool compatible = dims.size() == model_dims.size();
  for (size_t i = 0; compatible && i < dims.size(); ++i) {
    compatible = dims[i] == -1 || model_dims[i] == -1 || dims[i] == model_dims[i];
  }
  check_model(compatible, what, " has dims ", shape_text(dims), " in the config",
              batched ? " (after the batch dim)" : "", " but ", declared.type.to_string(), " in the model");
}

const IoInfo* find_io(const std::vector<IoInfo>& list, const std::string& name) {
  for (const IoInfo& io : list) {
    if (io.name == name) return &io;
  }
  return nullptr;
}

void complete_inputs(inference::ModelConfig& config, const std::string& model_name, const Session& session) {
  std::vector<IoInfo> required;
  for (const IoInfo& in : session.inputs()) {
    if (!session.model().graph->initializers.count(in.name)) required.push_back(in);
  }
  if (config.input_size() == 0) {
    for (const IoInfo& in : required) config.add_input()->set_name(in.name);
  }
  const bool batched = config.max_batch_size() > 0;
  for (inference::ModelInput& input : *config.mutable_input()) {
    const IoInfo* declared = find_io(session.inputs(), input.name());
    check_model(declared != nullptr, "model '", model_name, "': config input '", input.name(),
                "' is not an input of the model");
    complete_tensor(input, *declared, batched, "model '" + model_name + "' input '" + input.name() + "'");
    const bool required_by_model = !session.model().graph->initializers.count(input.name());
    check_model(!input.optional() || !required_by_model, "model '", model_name, "': config input '", input.name(),
                "' is optional but the model requires it");
  }
  for (const IoInfo& in : required) {
    const bool listed = std::any_of(config.input().begin(), config.input().end(),
                                    [&](const inference::ModelInput& i) { return i.name() == in.name; });
    check_model(listed, "model '", model_name, "': the model's input '", in.name, "' is missing from the config");
  }
}

void complete_outputs(inference::ModelConfig& config, const std::string& model_name, const Session& session) {
  if (config.output_size() == 0) {
    for (const IoInfo& out : session.outputs()) config.add_output()->set_name(out.name);
  }
  const bool batched = config.max_batch_size() > 0;
  for (inference::ModelOutput& output : *config.mutable_output()) {
    const IoInfo* declared = find_io(session.outputs(), output.name());
    check_model(declared != nullptr, "model '", model_name, "': config output '", output.name(),
                "' is not an output of the model");
    complete_tensor(output, *declared, batched, "model '" + model_name + "' output '" + output.name() + "'");
  }
}

void check_scheduling(const inference::ModelConfig& config, const std::string& model_name) {
  check_model(config.max_batch_size() >= 0, "model '", model_name, "': max_batch_size must be >= 0");
  if (!config.has_dynamic_batching()) return;
  check_model(config.max_batch_size() > 0, "model '", model_name, "': dynamic_batching needs max_batch_size > 0");
  for (int size : config.dynamic_batching().preferred_batch_size()) {
    check_model(size > 0 && size <= config.max_batch_size(), "model '", model_name, "': preferred_batch_size ", size,
                " is not in 1..max_batch_size (", config.max_batch_size(), ")");
  }
}

void complete_instances(inference::ModelConfig& config, const std::string& model_name) {
  if (config.instance_group_size() == 0) {
    auto* group = config.add_instance_group();
    group->set_count(1);
    group->set_kind(inference::ModelInstanceGroup::KIND_CPU);
  }
  for (inference::ModelInstanceGroup& group : *config.mutable_instance_group()) {
    check_model(group.kind() == inference::ModelInstanceGroup::KIND_CPU ||
                    group.kind() == inference::ModelInstanceGroup::KIND_AUTO,
                "model '", model_name, "': instance_group kind ",
                inference::ModelInstanceGroup::Kind_Name(group.kind()),
                " is not supported (Tessera serves on the CPU)");
    check_model(group.count() >= 0, "model '", model_name, "': instance_group count must be >= 0");
    if (group.kind() == inference::ModelInstanceGroup::KIND_AUTO)
      group.set_kind(inference::ModelInstanceGroup::KIND_CPU);
    if (group.count() == 0) group.set_count(1);
  }
}

}  // namespace

inference::ModelConfig parse_model_config(const std::string& text, const std::string& file) {
  inference::ModelConfig config;
  google::protobuf::TextFormat::Parser parser;
  ConfigErrorCollector errors(file);
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(true);
  if (!parser.ParseFromString(text, &config)) {
    fail(ErrorCode::kInvalidModel, "cannot parse ", errors.errors().empty() ? file : errors.errors());
  }
  return config;
}

ModelConfigFile read_model_config(const std::filesystem::path& model_dir) {
  ModelConfigFile result;
  const std::filesystem::path path = model_dir / "config.pbtxt";
  std::ifstream file(path);
  if (!file) return result;
  std::stringstream text;
  text << file.rdbuf();
  result.config = parse_model_config(text.str(), path.string());
  result.from_file = true;
  return result;
}

void complete_model_config(inference::ModelConfig& config, bool from_file, const std::string& model_name,
                           const Session& session) {
  check_model(config.name().empty() || config.name() == model_name, "model '", model_name, "': config name '",
              config.name(), "' differs from the folder name");
  config.set_name(model_name);
  check_model(config.platform().empty() || config.platform() == kPlatform, "model '", model_name, "': platform '",
              config.platform(), "' is not served (only ", kPlatform, ")");
  check_model(config.backend().empty() || config.backend() == kBackend, "model '", model_name, "': backend '",
              config.backend(), "' is not served (only ", kBackend, ")");
  config.set_platform(kPlatform);
  config.set_backend(kBackend);
  if (!from_file) {
    bool batchable = !session.outputs().empty();
    for (const IoInfo& io : session.inputs()) batchable = batchable && is_batchable(io.type);
    for (const IoInfo& io : session.outputs()) batchable = batchable && is_batchable(io.type);
    config.set_max_batch_size(batchable ? kInferredMaxBatchSize : 0);
  }
  check_scheduling(config, model_name);
  complete_inputs(config, model_name, session);
  complete_outputs(config, model_name, session);
  complete_instances(config, model_name);
  if (!config.has_version_policy()) config.mutable_version_policy()->mutable_latest()->set_num_versions(1);
  if (config.default_model_filename().empty()) config.set_default_model_filename("model.onnx");
}

SessionOptions session_options_from_config(const inference::ModelConfig& config) {
  SessionOptions options;
  for (const auto& [key, parameter] : config.parameters()) {
    const std::string& value = parameter.string_value();
    if (key == "intra_op_thread_count") {
      const bool digits = !value.empty() && value.size() < 6 &&
                          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      check_model(digits, "model '", config.name(), "': parameter intra_op_thread_count '", value,
                  "' is not an integer in 0..99999");
      options.intra_op_threads = std::stoi(value);
    } else if (key == "optimization_level") {
      try {
        options.optimization_level = parse_optimization_level(value);
      } catch (const Error& e) {
        fail(ErrorCode::kInvalidModel, "model '", config.name(), "': parameter optimization_level: ", e.what());
      }
    } else if (!is_limit_parameter(key)) {
      // A misspelt limit would otherwise be ignored in silence, leaving the model unbounded.
      std::fprintf(stderr, "tessera serve: warning: model '%s': parameter '%s' is not one Tessera reads (ignored)\n",
                   config.name().c_str(), key.c_str());
    }
  }
  return options;
}

std::vector<int64_t> select_versions(const inference::ModelConfig& config, std::vector<int64_t> available) {
  std::sort(available.begin(), available.end());
  const inference::ModelVersionPolicy& policy = config.version_policy();
  if (policy.has_all()) return available;
  if (policy.has_specific()) {
    std::vector<int64_t> chosen;
    for (int64_t v : available) {
      const auto& wanted = policy.specific().versions();
      if (std::find(wanted.begin(), wanted.end(), v) != wanted.end()) chosen.push_back(v);
    }
    return chosen;
  }
  const size_t keep = policy.has_latest() ? std::max<uint32_t>(1, policy.latest().num_versions()) : 1;
  if (available.size() > keep) available.erase(available.begin(), available.end() - keep);
  return available;
}

int instance_count(const inference::ModelConfig& config) {
  int count = 0;
  for (const auto& group : config.instance_group()) count += std::max(1, group.count());
  return std::max(1, count);
}

std::string model_config_to_json(const inference::ModelConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(config, &json, options);
  return json;
}

}  // namespace tessera::serve
