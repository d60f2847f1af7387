// Fuzz target: raw bytes as they arrive on a `tessera serve` HTTP connection -> the server's request reader
// (serve/http_request_reader.h: Beast's parser with the server's limits) -> HttpApi, which routes the request and
// decodes infer bodies (JSON and the binary tensor extension) over a repository serving one model, "relu"
// (fuzz/corpus/model_loader/relu.onnx: x, y float [N, 3], batching up to 4). Every request must be answered
// exactly once, with a status; a crash, sanitizer report, leak or hang is a finding.
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>

#include "serve/http_api.h"
#include "serve/http_request_reader.h"
#include "serve/model_repository.h"

namespace {

namespace fs = std::filesystem;
using namespace tessera::serve;

constexpr size_t kBodyLimit = 1 << 20;

// A repository folder relu/1/model.onnx in a fresh temporary folder, loaded once (mode none: requests cannot
// load or unload models, so every input sees the same server).
ModelRepository& repository() {
  static ModelRepository* repository = [] {
    const fs::path root = fs::temp_directory_path() / ("tessera-fuzz-http-" + std::to_string(getpid()));
    fs::create_directories(root / "relu" / "1");
    fs::copy_file(TESSERA_SOURCE_DIR "/fuzz/corpus/model_loader/relu.onnx", root / "relu" / "1" / "model.onnx",
                  fs::copy_options::overwrite_existing);
    auto* created = new ModelRepository(root, ModelControlMode::kNone);
    created->load_initial({});
    return created;
  }();
  return *repository;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static HttpApi* api = new HttpApi(repository());
  std::optional<HttpRequest> request =
      parse_http_request(std::string_view(reinterpret_cast<const char*>(data), size), kBodyLimit);
  if (!request) return 0;
  std::mutex mutex;
  std::condition_variable answered;
  int answers = 0;
  api->handle(std::move(*request), [&](HttpResponse response) {
    if (response.status < 100 || response.status > 599) std::abort();
    std::lock_guard<std::mutex> lock(mutex);
    ++answers;
    answered.notify_all();
  });
  std::unique_lock<std::mutex> lock(mutex);
  // Inference answers from the model's worker thread; 20 s is libFuzzer's hang limit in scripts/fuzz.sh.
  answered.wait(lock, [&] { return answers > 0; });
  if (answers != 1) std::abort();
  return 0;
}
