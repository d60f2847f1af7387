// Fuzz target: serialized model bytes -> Session (load, validate, optimize, compile kernels). Any tessera::Error
// is a correct refusal; a crash, sanitizer report, leak or hang is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "runtime/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  tessera::SessionOptions options;
  options.intra_op_threads = 1;
  // Small limits keep each input fast; they are what a server would set for untrusted models.
  options.limits.max_tensor_bytes = uint64_t{64} << 20;
  options.limits.max_loop_iterations = 1000;
  options.limits.max_graph_depth = 8;
  try {
    tessera::Session session = tessera::Session::from_bytes(bytes, options);
  } catch (const tessera::Error&) {
  }
  return 0;
}
