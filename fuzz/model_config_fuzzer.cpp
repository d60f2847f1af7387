// Fuzz target: config.pbtxt text -> parse_model_config, then what ModelRepository does with a parsed config:
// complete and check it against a served model (fuzz/corpus/model_loader/relu.onnx: x, y float [N, 3]), session
// options, per-model limits, version policy, instance count and the JSON form. tessera::Error is a correct refusal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "runtime/session.h"
#include "serve/model_config.h"
#include "serve/model_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tessera::Session* session =
      new tessera::Session(TESSERA_SOURCE_DIR "/fuzz/corpus/model_loader/relu.onnx", tessera::SessionOptions{});
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    inference::ModelConfig config = tessera::serve::parse_model_config(text, "config.pbtxt");
    tessera::serve::complete_model_config(config, /*from_file=*/true, "relu", *session);
    tessera::serve::session_options_from_config(config);
    tessera::serve::model_limits(config, {});
    tessera::serve::select_versions(config, {1, 2, 3, 7});
    tessera::serve::instance_count(config);
    tessera::serve::model_config_to_json(config);
  } catch (const tessera::Error&) {
  }
  return 0;
}
