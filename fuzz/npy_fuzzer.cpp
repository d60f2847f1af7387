// Fuzz target: bytes -> .npy reader (tessera run --input x=FILE.npy). tessera::Error is a correct refusal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    tessera::Tensor tensor = tessera::cli::tensor_from_npy(bytes, "fuzz.npy");
  } catch (const tessera::Error&) {
  }
  return 0;
}
