// Fuzz target: the ONNX test-data reader (compare/test_data.h) that `tessera conformance` runs on every
// test_data_set_N/input_K.pb and output_K.pb. The first byte picks the declared type (tensors of several dtypes,
// bfloat16 read from uint16 bits, sequences, maps, a sequence of maps, an optional) or data.json; the rest is the
// file. A decoded value is compared with itself (the runner's comparison must accept it). tessera::Error is a
// correct refusal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "compare/test_data.h"

namespace {

std::vector<tessera::TypeInfo> declared_types() {
  using tessera::DType;
  using tessera::TypeInfo;
  return {TypeInfo::tensor(DType::kFloat),
          TypeInfo::tensor(DType::kInt64),
          TypeInfo::tensor(DType::kBFloat16),
          TypeInfo::tensor(DType::kString),
          TypeInfo::tensor(DType::kBool),
          TypeInfo::tensor(DType::kFloat16),
          TypeInfo::tensor(DType::kUint8),
          TypeInfo::sequence_of(TypeInfo::tensor(DType::kFloat)),
          TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kFloat)),
          TypeInfo::map_of(DType::kString, TypeInfo::tensor(DType::kInt64)),
          TypeInfo::sequence_of(TypeInfo::map_of(DType::kInt64, TypeInfo::tensor(DType::kFloat))),
          TypeInfo::optional_of(TypeInfo::tensor(DType::kFloat)),
          TypeInfo::optional_of(TypeInfo::sequence_of(TypeInfo::tensor(DType::kInt64)))};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<tessera::TypeInfo> types = declared_types();
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t choice = data[0] % (types.size() + 1);
  if (choice == types.size()) {
    tessera::tolerance_from_json(bytes);
    return 0;
  }
  try {
    const tessera::RuntimeValue value = tessera::read_test_value(bytes, types[choice]);
    tessera::compare_values(value, value, tessera::Tolerance{});
  } catch (const tessera::Error&) {
  }
  return 0;
}
