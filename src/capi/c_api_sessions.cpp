// tessera_session: creation, input/output descriptions and runs.
#include <cstring>

#include "c_api_guard.h"

using tessera::c_api::guarded;
using tessera::c_api::require;

namespace {

using tessera::ErrorCode;
using tessera::fail;
using tessera::IoInfo;
using tessera::RuntimeValue;
using tessera::Tensor;

// Keeps dims (-1 for non-numbers) and symbols of every input and output, for the pointers handed out later.
void describe_io(tessera_session& handle) {
  const std::vector<IoInfo>* lists[2] = {&handle.session->inputs(), &handle.session->outputs()};
  for (int kind = 0; kind < 2; ++kind) {
    for (const IoInfo& info : *lists[kind]) {
      std::vector<int64_t> dims;
      std::vector<std::string> symbols;
      if (info.type.shape) {
        for (const tessera::Dim& d : *info.type.shape) {
          dims.push_back(d.is_known() ? d.value : -1);
          symbols.push_back(d.is_known() ? std::string() : d.symbol);
        }
      }
      handle.dims[kind].push_back(std::move(dims));
      handle.symbols[kind].push_back(std::move(symbols));
    }
  }
}

tessera::SessionOptions options_or_default(const tessera_session_options* options) {
  return options != nullptr ? options->options : tessera::SessionOptions{};
}

tessera_session* adopt(tessera::Session session) {
  auto handle = std::make_unique<tessera_session>();
  handle->session = std::make_unique<tessera::Session>(std::move(session));
  describe_io(*handle);
  return handle.release();
}

const std::vector<IoInfo>& io_list(const tessera_session* session, tessera_io_kind kind) {
  require(session, "session");
  if (kind != TESSERA_IO_INPUT && kind != TESSERA_IO_OUTPUT) {
    fail(ErrorCode::kInvalidArgument, "io kind ", static_cast<int>(kind), " is neither input nor output");
  }
  return kind == TESSERA_IO_INPUT ? session->session->inputs() : session->session->outputs();
}

const IoInfo& io_at(const tessera_session* session, tessera_io_kind kind, size_t index) {
  const std::vector<IoInfo>& list = io_list(session, kind);
  if (index >= list.size()) {
    fail(ErrorCode::kInvalidArgument, kind == TESSERA_IO_INPUT ? "input" : "output", " index ", index,
         " is out of range (the model has ", list.size(), ")");
  }
  return list[index];
}

// Runs the session; returns the requested outputs (all when `output_names` is NULL) as tensors.
std::vector<Tensor> run_session(const tessera_session* session, const char* const* input_names,
                                const tessera_tensor* const* inputs, size_t input_count,
                                const char* const* output_names, size_t output_count,
                                const tessera_run_options* run_options = nullptr) {
  require(session, "session");
  if (input_count > 0) {
    require(input_names, "input_names");
    require(inputs, "inputs");
  }
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  for (size_t i = 0; i < input_count; ++i) {
    if (input_names[i] == nullptr) fail(ErrorCode::kInvalidArgument, "input_names[", i, "] is NULL");
    if (inputs[i] == nullptr) fail(ErrorCode::kInvalidArgument, "inputs[", i, "] ('", input_names[i], "') is NULL");
    feeds.emplace_back(input_names[i], inputs[i]->tensor);
  }
  std::vector<std::string> names;
  if (output_names != nullptr) {
    for (size_t i = 0; i < output_count; ++i) {
      if (output_names[i] == nullptr) fail(ErrorCode::kInvalidArgument, "output_names[", i, "] is NULL");
      names.emplace_back(output_names[i]);
    }
  } else if (output_count != session->session->outputs().size()) {
    fail(ErrorCode::kInvalidArgument, "output_names is NULL (every output) but output_count is ", output_count,
         "; the model has ", session->session->outputs().size(), " outputs");
  }
  tessera::RunControl control;
  if (run_options != nullptr) {
    control.terminate = &run_options->terminate;
    control.timeout_ms = run_options->timeout_ms;
  }
  std::vector<RuntimeValue> values = session->session->run(feeds, names, control);
  std::vector<Tensor> tensors;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string& name = names.empty() ? session->session->outputs()[i].name : names[i];
    if (!values[i].is_tensor()) {
      fail(ErrorCode::kUnsupported, "output '", name, "' is ", values[i].description(),
           ", not a tensor: the C API returns tensors only");
    }
    if (values[i].tensor().dtype() == tessera::DType::kString) {
      fail(ErrorCode::kUnsupported, "output '", name, "' is a string tensor: the C API does not return strings");
    }
    // Session::run returns outputs that share memory with nothing the caller or the session can reach.
    tensors.push_back(std::move(values[i].tensor()));
  }
  return tensors;
}

}  // namespace

extern "C" {

tessera_status tessera_session_create(const char* model_path, const tessera_session_options* options,
                                      tessera_session** out) {
  return guarded([&] {
    require(model_path, "model_path");
    require(out, "out");
    *out = adopt(tessera::Session(model_path, options_or_default(options)));
  });
}

tessera_status tessera_session_create_from_bytes(const void* data, size_t size, const tessera_session_options* options,
                                                 tessera_session** out) {
  return guarded([&] {
    if (size > 0) require(data, "data");
    require(out, "out");
    const std::string bytes(static_cast<const char*>(data), size);
    *out = adopt(tessera::Session::from_bytes(bytes, options_or_default(options)));
  });
}

void tessera_session_destroy(tessera_session* session) { delete session; }

tessera_status tessera_session_io_count(const tessera_session* session, tessera_io_kind kind, size_t* count) {
  return guarded([&] {
    require(count, "count");
    *count = io_list(session, kind).size();
  });
}

tessera_status tessera_session_io_name(const tessera_session* session, tessera_io_kind kind, size_t index,
                                       const char** name) {
  return guarded([&] {
    const IoInfo& info = io_at(session, kind, index);
    require(name, "name");
    *name = info.name.c_str();
  });
}

tessera_status tessera_session_io_type(const tessera_session* session, tessera_io_kind kind, size_t index,
                                       int32_t* element_type, int64_t* rank, const int64_t** dims) {
  return guarded([&] {
    const IoInfo& info = io_at(session, kind, index);
    require(element_type, "element_type");
    require(rank, "rank");
    require(dims, "dims");
    const bool is_tensor = info.type.kind == tessera::TypeInfo::Kind::kTensor;
    *element_type = is_tensor ? static_cast<int32_t>(info.type.elem_type) : 0;
    *rank = is_tensor && info.type.shape ? static_cast<int64_t>(info.type.shape->size()) : -1;
    *dims = session->dims[kind][index].data();
  });
}

tessera_status tessera_session_io_dim_name(const tessera_session* session, tessera_io_kind kind, size_t index,
                                           size_t axis, const char** name) {
  return guarded([&] {
    io_at(session, kind, index);
    require(name, "name");
    const auto& symbols = session->symbols[kind][index];
    if (axis >= symbols.size())
      fail(ErrorCode::kInvalidArgument, "axis ", axis, " is out of range (rank ", symbols.size(), ")");
    *name = symbols[axis].c_str();
  });
}

tessera_status tessera_session_run(const tessera_session* session, const char* const* input_names,
                                   const tessera_tensor* const* inputs, size_t input_count,
                                   const char* const* output_names, size_t output_count, tessera_tensor** outputs) {
  return tessera_session_run_with_options(session, nullptr, input_names, inputs, input_count, output_names,
                                          output_count, outputs);
}

tessera_status tessera_session_run_with_options(const tessera_session* session, const tessera_run_options* run_options,
                                                const char* const* input_names, const tessera_tensor* const* inputs,
                                                size_t input_count, const char* const* output_names,
                                                size_t output_count, tessera_tensor** outputs) {
  return guarded([&] {
    if (output_count > 0) require(outputs, "outputs");
    std::vector<Tensor> results =
        run_session(session, input_names, inputs, input_count, output_names, output_count, run_options);
    std::vector<std::unique_ptr<tessera_tensor>> handles;
    for (Tensor& t : results) handles.push_back(std::make_unique<tessera_tensor>(tessera_tensor{std::move(t)}));
    for (size_t i = 0; i < handles.size(); ++i) outputs[i] = handles[i].release();
  });
}

tessera_status tessera_session_run_into(const tessera_session* session, const char* const* input_names,
                                        const tessera_tensor* const* inputs, size_t input_count,
                                        const char* const* output_names, size_t output_count,
                                        tessera_tensor* const* outputs) {
  return guarded([&] {
    if (output_count > 0) require(outputs, "outputs");
    for (size_t i = 0; i < output_count; ++i) {
      if (outputs[i] == nullptr) fail(ErrorCode::kInvalidArgument, "outputs[", i, "] is NULL");
    }
    const std::vector<Tensor> results =
        run_session(session, input_names, inputs, input_count, output_names, output_count);
    for (size_t i = 0; i < results.size(); ++i) {
      const Tensor& destination = outputs[i]->tensor;
      if (destination.dtype() != results[i].dtype() || destination.shape() != results[i].shape()) {
        const std::string name = output_names ? output_names[i] : session->session->outputs()[i].name;
        fail(ErrorCode::kInvalidArgument, "output '", name, "' is ", results[i].description(),
             " but the buffer given for it is ", destination.description());
      }
    }
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].byte_size() > 0)
        std::memcpy(outputs[i]->tensor.raw_data(), results[i].raw_data(), results[i].byte_size());
    }
  });
}

}  // extern "C"
