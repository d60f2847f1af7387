// The v2 protocol's datatype names ("FP32", "BYTES", ...) and the config's DataType enum, mapped to DType.
#pragma once

#include <optional>
#include <string>

#include "base/dtype.h"
#include "model_config.pb.h"

namespace tessera::serve {

// The protocol name of `dtype` ("BOOL", "UINT8".."UINT64", "INT8".."INT64", "FP16", "BF16", "FP32", "FP64",
// "BYTES" for strings); nullopt for element types the protocol cannot carry (complex, float8, sub-byte).
std::optional<std::string> protocol_datatype_name(DType dtype);
// The DType of a protocol name; nullopt for a name the protocol does not define.
std::optional<DType> dtype_from_protocol_name(const std::string& name);

// The config enum of `dtype` (TYPE_INVALID when the config cannot express it).
inference::DataType config_datatype(DType dtype);
// The DType of a config enum value (kUndefined for TYPE_INVALID).
DType dtype_from_config(inference::DataType datatype);

}  // namespace tessera::serve
