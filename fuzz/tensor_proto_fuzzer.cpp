// Fuzz target: bytes -> onnx::TensorProto -> Tensor (the reader of initializers and .pb inputs), and the same
// bytes as a serialized test-data value of a float tensor type. tessera::Error is a correct refusal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "onnx.pb.h"
#include "onnx/tensor_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  tessera::onnx::TensorProto proto;
  if (proto.ParseFromString(bytes)) {
    try {
      tessera::Tensor tensor = tessera::tensor_from_proto(proto, nullptr);
    } catch (const tessera::Error&) {
    }
  }
  try {
    tessera::RuntimeValue value = tessera::value_from_bytes(bytes, tessera::TypeInfo::tensor(tessera::DType::kFloat));
  } catch (const tessera::Error&) {
  }
  return 0;
}
