#include "serve/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <stdexcept>

#include "grpc_service.grpc.pb.h"
#include "serve/grpc_infer_codec.h"
#include "serve/model_config.h"
#include "serve/server_info.h"

namespace tessera::serve {

namespace {

grpc::Status grpc_status(const ServeError& error) {
  switch (error.status()) {
    case ServeStatus::kBadRequest:
      return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
    case ServeStatus::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, error.what()};
    case ServeStatus::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, error.what()};
    case ServeStatus::kTooLarge:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, error.what()};
    case ServeStatus::kInternal:
      break;
  }
  return {grpc::StatusCode::INTERNAL, error.what()};
}

// Runs `body`, translating ServeError (and anything else) into a gRPC status.
template <typename Body>
grpc::Status guarded(Body&& body) {
  try {
    body();
    return grpc::Status::OK;
  } catch (const ServeError& e) {
    return grpc_status(e);
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, e.what()};
  }
}

void fill_duration(inference::StatisticDuration* out, const DurationStat& stat) {
  out->set_count(stat.count);
  out->set_ns(stat.ns);
}

void fill_statistics(inference::ModelStatistics* out, const ServedModel& model) {
  const StatisticsSnapshot s = model.statistics().snapshot();
  out->set_name(model.name());
  out->set_version(model.version_string());
  out->set_last_inference(s.last_inference_ms);
  out->set_inference_count(s.inference_count);
  out->set_execution_count(s.execution_count);
  auto* stats = out->mutable_inference_stats();
  fill_duration(stats->mutable_success(), s.success);
  fill_duration(stats->mutable_fail(), s.fail);
  fill_duration(stats->mutable_queue(), s.queue);
  fill_duration(stats->mutable_compute_input(), s.compute_input);
  fill_duration(stats->mutable_compute_infer(), s.compute_infer);
  fill_duration(stats->mutable_compute_output(), s.compute_output);
  for (const auto& [size, batch] : s.batch_stats) {
    auto* entry = out->add_batch_stats();
    entry->set_batch_size(size);
    fill_duration(entry->mutable_compute_input(), batch.compute_input);
    fill_duration(entry->mutable_compute_infer(), batch.compute_infer);
    fill_duration(entry->mutable_compute_output(), batch.compute_output);
  }
}

void fill_tensor_metadata(google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out,
                          const std::vector<TensorMetadata>& tensors) {
  for (const TensorMetadata& t : tensors) {
    auto* entry = out->Add();
    entry->set_name(t.name);
    entry->set_datatype(t.datatype);
    for (int64_t dim : t.shape) entry->add_shape(dim);
  }
}

}  // namespace

class GrpcServer::Service final
    : public inference::GRPCInferenceService::WithCallbackMethod_ModelInfer<inference::GRPCInferenceService::Service> {
 public:
  explicit Service(ModelRepository& repository) : repository_(repository) {}

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* out) override {
    out->set_live(true);
    return grpc::Status::OK;
  }
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* out) override {
    out->set_ready(repository_.ready());
    return grpc::Status::OK;
  }
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* in,
                          inference::ModelReadyResponse* out) override {
    return guarded([&] {
      try {
        repository_.find(in->name(), in->version());
        out->set_ready(true);
      } catch (const ServeError& e) {
        if (e.status() == ServeStatus::kNotFound) throw;
        out->set_ready(false);
      }
    });
  }
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* out) override {
    out->set_name(kServerName);
    out->set_version(kServerVersion);
    for (const std::string& extension : server_extensions()) out->add_extensions(extension);
    return grpc::Status::OK;
  }
  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* in,
                             inference::ModelMetadataResponse* out) override {
    return guarded([&] {
      const auto served = repository_.find(in->name(), in->version());
      out->set_name(in->name());
      for (const auto& loaded : repository_.loaded(in->name())) out->add_versions(loaded->version_string());
      out->set_platform(served->config().platform());
      fill_tensor_metadata(out->mutable_inputs(), input_metadata(served->config()));
      fill_tensor_metadata(out->mutable_outputs(), output_metadata(served->config()));
    });
  }
  grpc::Status ModelConfig(grpc::ServerContext*, const inference::ModelConfigRequest* in,
                           inference::ModelConfigResponse* out) override {
    return guarded([&] { *out->mutable_config() = repository_.find(in->name(), in->version())->config(); });
  }
  grpc::Status ModelStatistics(grpc::ServerContext*, const inference::ModelStatisticsRequest* in,
                               inference::ModelStatisticsResponse* out) override {
    return guarded([&] {
      std::vector<std::shared_ptr<ServedModel>> models;
      if (!in->version().empty())
        models.push_back(repository_.find(in->name(), in->version()));
      else
        models = repository_.loaded(in->name());
      if (models.empty() && !in->name().empty()) repository_.find(in->name(), "");  // throws the right error
      for (const auto& model : models) fill_statistics(out->add_model_stats(), *model);
    });
  }
  grpc::Status RepositoryIndex(grpc::ServerContext*, const inference::RepositoryIndexRequest* in,
                               inference::RepositoryIndexResponse* out) override {
    for (const ModelIndexEntry& row : repository_.index()) {
      if (in->ready() && row.state != "READY") continue;
      auto* entry = out->add_models();
      entry->set_name(row.name);
      entry->set_version(row.version);
      entry->set_state(row.state);
      entry->set_reason(row.reason);
    }
    return grpc::Status::OK;
  }
  grpc::Status RepositoryModelLoad(grpc::ServerContext*, const inference::RepositoryModelLoadRequest* in,
                                   inference::RepositoryModelLoadResponse*) override {
    return guarded([&] { repository_.load(in->model_name()); });
  }
  grpc::Status RepositoryModelUnload(grpc::ServerContext*, const inference::RepositoryModelUnloadRequest* in,
                                     inference::RepositoryModelUnloadResponse*) override {
    return guarded([&] { repository_.unload(in->model_name()); });
  }
  // Callback API: the gRPC thread returns at once and the model's worker finishes the call, so requests
  // waiting in a queue or a forming batch hold no thread.
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context, const inference::ModelInferRequest* in,
                                       inference::ModelInferResponse* out) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const grpc::Status rejected = guarded([&] {
      const auto served = repository_.find(in->model_name(), in->model_version());
      InferenceRequest decoded = served->decode_request([&] { return decode_grpc_infer_request(*in); });
      served->scheduler().submit(std::move(decoded), [reactor, out](InferenceResult result) {
        if (result.error) {
          reactor->Finish(grpc_status(*result.error));
          return;
        }
        reactor->Finish(guarded([&] { encode_grpc_infer_response(result.response, *out); }));
      });
    });
    if (!rejected.ok()) reactor->Finish(rejected);
    return reactor;
  }

 private:
  ModelRepository& repository_;
};

GrpcServer::GrpcServer(ModelRepository& repository, const std::string& address, uint16_t port, int max_message_bytes)
    : service_(std::make_unique<Service>(repository)) {
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address + ":" + std::to_string(port), grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.SetMaxSendMessageSize(max_message_bytes);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || selected_port == 0) {
    throw std::runtime_error("cannot listen for gRPC on " + address + ":" + std::to_string(port));
  }
  port_ = static_cast<uint16_t>(selected_port);
}

GrpcServer::~GrpcServer() { shutdown(); }

void GrpcServer::shutdown() {
  if (!server_) return;
  server_->Shutdown();
  server_->Wait();
  server_.reset();
}

}  // namespace tessera::serve
