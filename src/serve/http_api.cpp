#include "serve/http_api.h"

#include <nlohmann/json.hpp>

#include "serve/http_infer_codec.h"
#include "serve/model_config.h"
#include "serve/server_info.h"
#include "serve/status_page.h"

namespace tessera::serve {

namespace {

using nlohmann::json;

HttpResponse json_response(const json& document) {
  HttpResponse response;
  response.body = document.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

HttpResponse empty_response(int status) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain";
  return response;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path segments of `target` (query dropped), percent-decoded.
std::vector<std::string> path_segments(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> segments;
  std::string current;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!current.empty()) segments.push_back(current);
      current.clear();
    } else if (path[i] == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 && hex_value(path[i + 2]) >= 0) {
      current += static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
      i += 2;
    } else {
      current += path[i];
    }
  }
  return segments;
}

json tensor_metadata_json(const std::vector<TensorMetadata>& tensors) {
  json list = json::array();
  for (const TensorMetadata& t : tensors)
    list.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  return list;
}

json duration_json(const DurationStat& stat) { return {{"count", stat.count}, {"ns", stat.ns}}; }

json statistics_json(const std::vector<std::shared_ptr<ServedModel>>& models) {
  json list = json::array();
  for (const auto& model : models) {
    const StatisticsSnapshot s = model->statistics().snapshot();
    json batches = json::array();
    for (const auto& [size, batch] : s.batch_stats) {
      batches.push_back({{"batch_size", size},
                         {"compute_input", duration_json(batch.compute_input)},
                         {"compute_infer", duration_json(batch.compute_infer)},
                         {"compute_output", duration_json(batch.compute_output)}});
    }
    list.push_back({{"name", model->name()},
                    {"version", model->version_string()},
                    {"last_inference", s.last_inference_ms},
                    {"inference_count", s.inference_count},
                    {"execution_count", s.execution_count},
                    {"inference_stats",
                     {{"success", duration_json(s.success)},
                      {"fail", duration_json(s.fail)},
                      {"queue", duration_json(s.queue)},
                      {"compute_input", duration_json(s.compute_input)},
                      {"compute_infer", duration_json(s.compute_infer)},
                      {"compute_output", duration_json(s.compute_output)}}},
                    {"batch_stats", batches}});
  }
  return {{"model_stats", list}};
}

json index_json(const std::vector<ModelIndexEntry>& rows, bool ready_only) {
  json list = json::array();
  for (const ModelIndexEntry& row : rows) {
    if (ready_only && row.state != "READY") continue;
    json entry = {{"name", row.name}, {"state", row.state}};
    if (!row.version.empty()) entry["version"] = row.version;
    if (!row.reason.empty()) entry["reason"] = row.reason;
    list.push_back(entry);
  }
  return list;
}

bool wants_ready_only(const std::string& body) {
  const json document = json::parse(body, nullptr, false);
  return document.is_object() && document.contains("ready") && document["ready"].is_boolean() &&
         document["ready"].get<bool>();
}

void require_method(const HttpRequest& request, const char* method) {
  if (request.method != method) {
    throw ServeError(ServeStatus::kBadRequest,
                     "method " + request.method + " not allowed on " + request.target + " (use " + method + ")");
  }
}

}  // namespace

void HttpApi::handle(HttpRequest request, HttpResponder respond) {
  bool answered = false;
  HttpResponse response;
  try {
    response = route(request, path_segments(request.target), respond, answered);
  } catch (const ServeError& e) {
    response = http_error_response(http_status_code(e.status()), e.what());
  } catch (const std::exception& e) {
    response = http_error_response(500, e.what());
  }
  if (!answered) respond(std::move(response));
}

HttpResponse HttpApi::route(const HttpRequest& request, const std::vector<std::string>& path, HttpResponder& respond,
                            bool& answered) {
  const size_t n = path.size();
  if (n == 0 && request.method == "GET") {
    HttpResponse page;
    page.content_type = "text/html; charset=utf-8";
    page.body = status_page_html(repository_);
    return page;
  }
  if (n == 1 && path[0] == "status.json" && request.method == "GET") {
    HttpResponse status;
    status.body = status_json(repository_);
    return status;
  }
  if (n == 0 || path[0] != "v2") throw ServeError(ServeStatus::kNotFound, "no endpoint " + request.target);
  if (n == 1) {
    require_method(request, "GET");
    return json_response({{"name", kServerName}, {"version", kServerVersion}, {"extensions", server_extensions()}});
  }
  if (n == 3 && path[1] == "health" && path[2] == "live") return empty_response(200);
  if (n == 3 && path[1] == "health" && path[2] == "ready") return empty_response(repository_.ready() ? 200 : 503);
  if (n == 3 && path[1] == "repository" && path[2] == "index") {
    require_method(request, "POST");
    return json_response(index_json(repository_.index(), wants_ready_only(request.body)));
  }
  if (n == 5 && path[1] == "repository" && path[2] == "models" && (path[4] == "load" || path[4] == "unload")) {
    require_method(request, "POST");
    if (path[4] == "load")
      repository_.load(path[3]);
    else
      repository_.unload(path[3]);
    return empty_response(200);
  }
  if (n == 3 && path[1] == "models" && path[2] == "stats") {
    require_method(request, "GET");
    return json_response(statistics_json(repository_.loaded()));
  }
  if (n >= 3 && path[1] == "models") return model_route(request, path, respond, answered);
  throw ServeError(ServeStatus::kNotFound, "no endpoint " + request.target);
}

HttpResponse HttpApi::model_route(const HttpRequest& request, const std::vector<std::string>& path,
                                  HttpResponder& respond, bool& answered) {
  const std::string& model = path[2];
  std::string version;
  size_t rest = 3;
  if (path.size() >= 5 && path[3] == "versions") {
    version = path[4];
    rest = 5;
  }
  if (path.size() > rest + 1) throw ServeError(ServeStatus::kNotFound, "no endpoint " + request.target);
  const std::string action = path.size() == rest + 1 ? path[rest] : "";
  if (action == "infer") {
    require_method(request, "POST");
    answered = true;
    infer(request, model, version, std::move(respond));
    return {};
  }
  if (action == "ready") {
    try {
      repository_.find(model, version);
      return empty_response(200);
    } catch (const ServeError& e) {
      if (e.status() == ServeStatus::kNotFound) throw;
      return empty_response(400);
    }
  }
  require_method(request, "GET");
  if (action == "stats") {
    std::vector<std::shared_ptr<ServedModel>> models;
    if (version.empty())
      models = repository_.loaded(model);
    else
      models.push_back(repository_.find(model, version));
    if (models.empty()) repository_.find(model, version);  // throws the right error
    return json_response(statistics_json(models));
  }
  const std::shared_ptr<ServedModel> served = repository_.find(model, version);
  if (action == "config") {
    HttpResponse response;
    response.body = model_config_to_json(served->config());
    return response;
  }
  if (!action.empty()) throw ServeError(ServeStatus::kNotFound, "no endpoint " + request.target);
  json versions = json::array();
  for (const auto& loaded : repository_.loaded(model)) versions.push_back(loaded->version_string());
  return json_response({{"name", model},
                        {"versions", versions},
                        {"platform", served->config().platform()},
                        {"inputs", tensor_metadata_json(input_metadata(served->config()))},
                        {"outputs", tensor_metadata_json(output_metadata(served->config()))}});
}

void HttpApi::infer(const HttpRequest& request, const std::string& model, const std::string& version,
                    HttpResponder respond) {
  try {
    const std::string encoding = request.header("content-encoding");
    if (!encoding.empty() && encoding != "identity") {
      throw ServeError(ServeStatus::kBadRequest,
                       "Content-Encoding '" + encoding + "' is not supported; send the body uncompressed");
    }
    std::optional<size_t> json_length;
    const std::string header = request.header("inference-header-content-length");
    if (!header.empty()) json_length = parse_json_length_header(header);
    const std::shared_ptr<ServedModel> served = repository_.find(model, version);
    InferenceRequest decoded =
        served->decode_request([&] { return decode_http_infer_request(request.body, json_length, model, version); });
    OutputEncoding encoding_wanted{decoded.outputs, decoded.binary_outputs};
    served->scheduler().submit(std::move(decoded), [respond, encoding_wanted](InferenceResult result) {
      if (result.error) {
        respond(http_error_response(http_status_code(result.error->status()), result.error->what()));
        return;
      }
      try {
        respond(encode_http_infer_response(result.response, encoding_wanted));
      } catch (const std::exception& e) {
        respond(http_error_response(500, e.what()));
      }
    });
  } catch (const ServeError& e) {
    respond(http_error_response(http_status_code(e.status()), e.what()));
  }
}

}  // namespace tessera::serve
