// JSON forms of ai.onnx.ml map values for the command line: `tessera run` prints map and sequence-of-map
// outputs as JSON, saves them as .json with --output-dir, and reads map inputs from .json files.
#pragma once

#include <string>

#include "base/runtime_value.h"
#include "ir/type_info.h"

namespace tessera::cli {

// A map as a JSON object ({"0": 0.25, "1": 0.75}: int64 keys written as decimal strings, since JSON keys are
// strings; float values in their shortest exact form), a sequence of maps as an array of such objects.
// Throws kInvalidArgument for other values.
std::string map_to_json(const RuntimeValue& value, int indent = -1);

// Reads a map input of type `type` (map(int64|string, tensor(float|double|int64|string))) from JSON text: an
// object whose keys are the map's keys (decimal integers for int64 keys) and whose values are numbers or
// strings. Throws kInvalidArgument naming `source` for malformed JSON, keys or values of the wrong kind.
RuntimeValue map_from_json(const std::string& text, const TypeInfo& type, const std::string& source);

}  // namespace tessera::cli
