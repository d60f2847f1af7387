#include "serve/server.h"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include "serve/grpc_server.h"
#include "serve/http_api.h"
#include "serve/http_server.h"
#include "serve/prometheus_metrics.h"

namespace tessera::serve {

namespace {

HttpHandler metrics_handler(const ModelRepository& repository) {
  return [&repository](HttpRequest request, HttpResponder respond) {
    if (request.target.substr(0, request.target.find('?')) != "/metrics") {
      respond(http_error_response(404, "no endpoint " + request.target + " (metrics are at /metrics)"));
      return;
    }
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = prometheus_metrics(repository);
    respond(std::move(response));
  };
}

// Waits for SIGINT or SIGTERM (blocked in every thread), polling the repository meanwhile in poll mode.
void wait_for_stop_signal(const sigset_t& signals, ModelRepository& repository, const ServeOptions& options) {
  for (;;) {
    timespec timeout{options.poll_seconds > 0 ? options.poll_seconds : 3600, 0};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal == SIGINT || signal == SIGTERM) return;
    if (options.control_mode == ModelControlMode::kPoll) repository.poll();
  }
}

}  // namespace

int run_server(const ServeOptions& options) {
  // Blocked before any thread starts, so every thread inherits the mask and only sigtimedwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ModelRepository repository(options.model_repository, options.control_mode, options.limits);
  repository.load_initial(options.load_models);
  const int io_threads = options.http_threads > 0 ? options.http_threads
                                                  : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  HttpApi api(repository);
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GrpcServer> grpc;
  std::unique_ptr<HttpServer> metrics;
  if (options.http_port >= 0) {
    http = std::make_unique<HttpServer>(
        options.address, static_cast<uint16_t>(options.http_port), io_threads, options.http_max_body_bytes,
        [&api](HttpRequest request, HttpResponder respond) { api.handle(std::move(request), std::move(respond)); });
    std::fprintf(stderr, "tessera serve: HTTP on %s:%u\n", options.address.c_str(), http->port());
  }
  if (options.grpc_port >= 0) {
    grpc = std::make_unique<GrpcServer>(repository, options.address, static_cast<uint16_t>(options.grpc_port),
                                        options.grpc_max_message_bytes);
    std::fprintf(stderr, "tessera serve: gRPC on %s:%u\n", options.address.c_str(), grpc->port());
  }
  if (options.metrics_port >= 0) {
    metrics = std::make_unique<HttpServer>(options.address, static_cast<uint16_t>(options.metrics_port), 1, 1 << 16,
                                           metrics_handler(repository));
    std::fprintf(stderr, "tessera serve: metrics on %s:%u\n", options.address.c_str(), metrics->port());
  }
  std::fprintf(stderr, "tessera serve: ready\n");
  std::fflush(stderr);

  wait_for_stop_signal(signals, repository, options);
  std::fprintf(stderr, "tessera serve: stopping\n");
  if (http) http->stop_accepting();
  if (grpc) grpc->shutdown();  // waits for the calls in flight
  repository.unload_all();     // runs every queued request
  for (int i = 0; http && http->in_flight() > 0 && i < 3000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (http) http->stop();
  if (metrics) metrics->stop();
  std::fprintf(stderr, "tessera serve: stopped\n");
  return 0;
}

}  // namespace tessera::serve
