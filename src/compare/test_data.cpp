#include "compare/test_data.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "onnx/tensor_proto.h"

namespace tessera {

namespace fs = std::filesystem;

Tolerance tolerance_from_json(const std::string& text) {
  Tolerance tolerance;
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return tolerance;
  auto number = [&](const char* key, double& out) {
    const auto found = document.find(key);
    if (found != document.end() && found->is_number()) out = found->get<double>();
  };
  number("rtol", tolerance.rtol);
  number("atol", tolerance.atol);
  return tolerance;
}

Tolerance read_test_tolerance(const fs::path& dir) {
  std::ifstream file(dir / "data.json", std::ios::binary);
  if (!file) return {};
  std::stringstream text;
  text << file.rdbuf();
  return tolerance_from_json(text.str());
}

RuntimeValue read_test_value(const std::string& bytes, const TypeInfo& declared) {
  RuntimeValue value = value_from_bytes(bytes, declared);
  if (!value.is_tensor() || !declared.is_tensor() || declared.elem_type != DType::kBFloat16 ||
      value.tensor().dtype() != DType::kUint16) {
    return value;
  }
  const Tensor& bits = value.tensor();
  Tensor reread(DType::kBFloat16, bits.shape());
  if (bits.byte_size() > 0) std::memcpy(reread.raw_data(), bits.raw_data(), bits.byte_size());
  return RuntimeValue(std::move(reread));
}

std::vector<fs::path> test_data_sets(const fs::path& dir) {
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(entry.path());
  }
  std::sort(sets.begin(), sets.end());
  return sets;
}

}  // namespace tessera
