#include "serve/batch_execution.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "serve/datatype.h"

namespace tessera::serve {

namespace {

// The shape a config allows for an input: dims, with "-1" as the batch dim when batching.
std::vector<int64_t> allowed_shape(const inference::ModelInput& input, bool batched) {
  std::vector<int64_t> shape;
  if (batched) shape.push_back(-1);
  shape.insert(shape.end(), input.dims().begin(), input.dims().end());
  return shape;
}

void check_input(const NamedTensor& input, const inference::ModelInput& declared,
                 const inference::ModelConfig& config) {
  const std::string what = "model '" + config.name() + "' input '" + input.name + "'";
  const DType expected = dtype_from_config(declared.data_type());
  if (input.tensor.dtype() != expected) {
    bad_request(what + ": datatype " + protocol_datatype_name(input.tensor.dtype()).value_or("?") +
                " but the model expects " + protocol_datatype_name(expected).value_or("?"));
  }
  const bool batched = config.max_batch_size() > 0;
  const std::vector<int64_t> allowed = allowed_shape(declared, batched);
  const std::vector<int64_t>& shape = input.tensor.shape();
  bool fits = shape.size() == allowed.size();
  for (size_t i = 0; fits && i < shape.size(); ++i) fits = allowed[i] == -1 || allowed[i] == shape[i];
  if (!fits)
    bad_request(what + ": shape " + shape_to_string(shape) + " does not match the model's " + shape_to_string(allowed));
  if (batched && (shape[0] < 1 || shape[0] > config.max_batch_size())) {
    bad_request(what + ": batch size " + std::to_string(shape[0]) + " (shape " + shape_to_string(shape) +
                ") is not in 1..max_batch_size " + std::to_string(config.max_batch_size()));
  }
}

// The inputs of `batch` stacked along dim 0, in the order of the first request.
std::vector<std::pair<std::string, RuntimeValue>> stack_inputs(const std::vector<QueuedRequest>& batch, int64_t rows) {
  std::vector<std::pair<std::string, RuntimeValue>> feeds;
  const auto& first_inputs = batch.front().request.inputs;
  if (batch.size() == 1) {
    for (const NamedTensor& input : first_inputs) feeds.emplace_back(input.name, input.tensor);
    return feeds;
  }
  for (size_t k = 0; k < first_inputs.size(); ++k) {
    const Tensor& first = first_inputs[k].tensor;
    std::vector<int64_t> shape = first.shape();
    shape[0] = rows;
    Tensor stacked = Tensor::uninitialized(first.dtype(), shape);
    size_t offset = 0;
    for (const QueuedRequest& queued : batch) {
      const Tensor* part = nullptr;
      for (const NamedTensor& input : queued.request.inputs) {
        if (input.name == first_inputs[k].name) part = &input.tensor;
      }
      if (first.dtype() == DType::kString) {
        std::copy_n(part->data<std::string>(), part->element_count(),
                    stacked.data<std::string>() + offset / sizeof(std::string));
      } else if (part->byte_size() > 0) {
        std::memcpy(static_cast<char*>(stacked.raw_data()) + offset, part->raw_data(), part->byte_size());
      }
      offset += part->byte_size();
    }
    feeds.emplace_back(first_inputs[k].name, RuntimeValue(stacked));
  }
  return feeds;
}

// Rows [row, row + count) of `tensor`, sharing its memory.
Tensor slice_rows(const Tensor& tensor, int64_t row, int64_t count) {
  std::vector<int64_t> shape = tensor.shape();
  shape[0] = count;
  if (tensor.byte_size() == 0 || !tensor.storage()) return Tensor(tensor.dtype(), shape);
  const size_t row_bytes = tensor.byte_size() / static_cast<size_t>(tensor.dim(0));
  const size_t offset =
      static_cast<size_t>(static_cast<char*>(tensor.raw_data()) - static_cast<char*>(tensor.storage()->data()));
  return Tensor(tensor.dtype(), shape, tensor.storage(), offset + row_bytes * static_cast<size_t>(row));
}

// The response of one request: its requested outputs (all, when none were named) cut from the batch's.
InferenceResponse response_for(const QueuedRequest& queued, const inference::ModelConfig& config,
                               const std::string& version, const std::vector<RuntimeValue>& outputs, int64_t row,
                               bool whole) {
  InferenceResponse response{queued.request.model_name, version, queued.request.id, {}};
  auto output_tensor = [&](const std::string& name) {
    for (int k = 0; k < config.output_size(); ++k) {
      if (config.output(k).name() == name) {
        const Tensor& tensor = outputs[k].tensor();
        return whole ? tensor : slice_rows(tensor, row, queued.batch_size);
      }
    }
    return Tensor();
  };
  if (queued.request.outputs.empty()) {
    for (const auto& output : config.output())
      response.outputs.push_back({output.name(), output_tensor(output.name())});
  } else {
    for (const RequestedOutput& wanted : queued.request.outputs)
      response.outputs.push_back({wanted.name, output_tensor(wanted.name)});
  }
  return response;
}

ServeError run_error(const Error& e, const inference::ModelConfig& config, const std::string& version) {
  const ServeStatus status =
      e.code() == ErrorCode::kInvalidArgument ? ServeStatus::kBadRequest : ServeStatus::kInternal;
  return ServeError(status, "model '" + config.name() + "' version " + version + ": " + e.what());
}

// The latest deadline of the batch's requests when every one has a deadline (no request could use a result
// after it), else SteadyClock::time_point::max().
SteadyClock::time_point batch_deadline(const std::vector<QueuedRequest>& batch) {
  SteadyClock::time_point latest = SteadyClock::time_point::min();
  for (const QueuedRequest& queued : batch) latest = std::max(latest, queued.deadline);
  return latest;
}

void fail_batch(std::vector<QueuedRequest>& batch, const ServeError& error, ModelStatistics& statistics) {
  for (QueuedRequest& queued : batch) {
    statistics.record_failure(nanoseconds_since(queued.arrival));
    queued.done(InferenceResult{error, {}});
  }
}

}  // namespace

uint64_t nanoseconds_since(SteadyClock::time_point from) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - from).count());
}

int64_t validate_request(const InferenceRequest& request, const inference::ModelConfig& config) {
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const NamedTensor& input = request.inputs[i];
    const auto declared = std::find_if(config.input().begin(), config.input().end(),
                                       [&](const inference::ModelInput& in) { return in.name() == input.name; });
    if (declared == config.input().end())
      bad_request("model '" + config.name() + "' has no input named '" + input.name + "'");
    for (size_t j = 0; j < i; ++j) {
      if (request.inputs[j].name == input.name)
        bad_request("model '" + config.name() + "': input '" + input.name + "' given twice");
    }
    check_input(input, *declared, config);
  }
  for (const inference::ModelInput& declared : config.input()) {
    const bool given = std::any_of(request.inputs.begin(), request.inputs.end(),
                                   [&](const NamedTensor& in) { return in.name == declared.name(); });
    if (!given && !declared.optional())
      bad_request("model '" + config.name() + "': input '" + declared.name() + "' is missing");
  }
  for (const RequestedOutput& wanted : request.outputs) {
    const bool known = std::any_of(config.output().begin(), config.output().end(),
                                   [&](const inference::ModelOutput& out) { return out.name() == wanted.name; });
    if (!known) bad_request("model '" + config.name() + "' has no output named '" + wanted.name + "'");
  }
  if (config.max_batch_size() == 0 || request.inputs.empty()) return 1;
  const int64_t rows = request.inputs.front().tensor.dim(0);
  for (const NamedTensor& input : request.inputs) {
    if (input.tensor.dim(0) != rows) {
      bad_request("model '" + config.name() + "': inputs disagree on the batch size (" + request.inputs.front().name +
                  " " + shape_to_string(request.inputs.front().tensor.shape()) + ", " + input.name + " " +
                  shape_to_string(input.tensor.shape()) + ")");
    }
  }
  return rows;
}

bool can_batch_together(const QueuedRequest& leader, const QueuedRequest& candidate) {
  const auto& a = leader.request.inputs;
  const auto& b = candidate.request.inputs;
  if (a.size() != b.size()) return false;
  for (const NamedTensor& input : a) {
    const auto match =
        std::find_if(b.begin(), b.end(), [&](const NamedTensor& other) { return other.name == input.name; });
    if (match == b.end()) return false;
    const auto& sa = input.tensor.shape();
    const auto& sb = match->tensor.shape();
    if (sa.size() != sb.size() || !std::equal(sa.begin() + 1, sa.end(), sb.begin() + 1)) return false;
  }
  return true;
}

int64_t run_timeout_ms(SteadyClock::time_point deadline, int64_t server_timeout_ms, SteadyClock::time_point now) {
  if (deadline == SteadyClock::time_point::max()) return server_timeout_ms;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
  const int64_t request_ms = std::max<int64_t>(1, left);
  return server_timeout_ms > 0 ? std::min(server_timeout_ms, request_ms) : request_ms;
}

void execute_batch(const Session& session, const inference::ModelConfig& config, const std::string& version,
                   std::vector<QueuedRequest>& batch, ModelStatistics& statistics, int64_t timeout_ms) {
  const auto start = SteadyClock::now();
  const SteadyClock::time_point deadline = batch_deadline(batch);
  int64_t rows = 0;
  for (const QueuedRequest& queued : batch) rows += queued.batch_size;
  std::vector<std::string> output_names;
  for (const auto& output : config.output()) output_names.push_back(output.name());
  BatchTimes times;
  std::vector<RuntimeValue> outputs;
  try {
    const auto feeds = stack_inputs(batch, rows);
    times.compute_input_ns = nanoseconds_since(start);
    const auto infer_start = SteadyClock::now();
    outputs = session.run(feeds, output_names, RunControl{.timeout_ms = run_timeout_ms(deadline, timeout_ms, start)});
    times.compute_infer_ns = nanoseconds_since(infer_start);
  } catch (const Error& e) {
    if (SteadyClock::now() >= deadline) {
      fail_batch(
          batch,
          ServeError(ServeStatus::kUnavailable, "model '" + config.name() + "' version " + version +
                                                    ": the request passed its deadline while running: " + e.what()),
          statistics);
      return;
    }
    fail_batch(batch, run_error(e, config, version), statistics);
    return;
  } catch (const std::exception& e) {
    fail_batch(batch, ServeError(ServeStatus::kInternal, "model '" + config.name() + "': " + e.what()), statistics);
    return;
  }
  const bool batched = config.max_batch_size() > 0;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const bool splittable =
        outputs[k].is_tensor() && (!batched || (outputs[k].tensor().rank() > 0 && outputs[k].tensor().dim(0) == rows));
    if (!splittable) {
      fail_batch(batch,
                 ServeError(ServeStatus::kInternal, "model '" + config.name() + "' output '" + output_names[k] +
                                                        "' is " + outputs[k].description() + ", not a tensor of " +
                                                        std::to_string(rows) + " rows"),
                 statistics);
      return;
    }
  }
  const auto output_start = SteadyClock::now();
  std::vector<InferenceResponse> responses;
  int64_t row = 0;
  for (const QueuedRequest& queued : batch) {
    responses.push_back(response_for(queued, config, version, outputs, row, batch.size() == 1));
    row += queued.batch_size;
  }
  times.compute_output_ns = nanoseconds_since(output_start);
  statistics.record_execution(static_cast<uint64_t>(rows), times);
  for (size_t i = 0; i < batch.size(); ++i) {
    const uint64_t queue_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(start - batch[i].arrival).count());
    statistics.record_success(static_cast<uint64_t>(batch[i].batch_size), nanoseconds_since(batch[i].arrival), queue_ns,
                              times);
    batch[i].done(InferenceResult{std::nullopt, std::move(responses[i])});
  }
}

}  // namespace tessera::serve
