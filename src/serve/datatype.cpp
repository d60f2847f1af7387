#include "serve/datatype.h"

#include <array>

namespace tessera::serve {

namespace {

struct DatatypeRow {
  DType dtype;
  const char* protocol_name;
  inference::DataType config_type;
};

constexpr std::array<DatatypeRow, 14> kDatatypes{{
    {DType::kBool, "BOOL", inference::TYPE_BOOL},
    {DType::kUint8, "UINT8", inference::TYPE_UINT8},
    {DType::kUint16, "UINT16", inference::TYPE_UINT16},
    {DType::kUint32, "UINT32", inference::TYPE_UINT32},
    {DType::kUint64, "UINT64", inference::TYPE_UINT64},
    {DType::kInt8, "INT8", inference::TYPE_INT8},
    {DType::kInt16, "INT16", inference::TYPE_INT16},
    {DType::kInt32, "INT32", inference::TYPE_INT32},
    {DType::kInt64, "INT64", inference::TYPE_INT64},
    {DType::kFloat16, "FP16", inference::TYPE_FP16},
    {DType::kFloat, "FP32", inference::TYPE_FP32},
    {DType::kDouble, "FP64", inference::TYPE_FP64},
    {DType::kString, "BYTES", inference::TYPE_STRING},
    {DType::kBFloat16, "BF16", inference::TYPE_BF16},
}};

}  // namespace

std::optional<std::string> protocol_datatype_name(DType dtype) {
  for (const DatatypeRow& row : kDatatypes) {
    if (row.dtype == dtype) return std::string(row.protocol_name);
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_protocol_name(const std::string& name) {
  for (const DatatypeRow& row : kDatatypes) {
    if (name == row.protocol_name) return row.dtype;
  }
  return std::nullopt;
}

inference::DataType config_datatype(DType dtype) {
  for (const DatatypeRow& row : kDatatypes) {
    if (row.dtype == dtype) return row.config_type;
  }
  return inference::TYPE_INVALID;
}

DType dtype_from_config(inference::DataType datatype) {
  for (const DatatypeRow& row : kDatatypes) {
    if (row.config_type == datatype) return row.dtype;
  }
  return DType::kUndefined;
}

}  // namespace tessera::serve
