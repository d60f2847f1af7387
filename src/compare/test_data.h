// The ONNX backend test-data format, as `tessera conformance` reads it: a test folder holds model.onnx, an
// optional data.json (tolerances) and test_data_set_N/ folders of input_K.pb / output_K.pb values.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/runtime_value.h"
#include "compare/value_compare.h"
#include "ir/type_info.h"

namespace tessera {

// The "rtol" and "atol" numbers of a data.json text; the defaults for keys that are absent or not numbers.
// Never throws: any text gives some tolerance.
Tolerance tolerance_from_json(const std::string& text);

// The tolerance of test folder `dir` (its data.json, or the defaults when there is none).
Tolerance read_test_tolerance(const std::filesystem::path& dir);

// Decodes a serialized input_K.pb / output_K.pb value declared as `declared` (value_from_bytes). The ONNX 1.12
// data stores bfloat16 tensors as uint16 with the same bits, as ONNX's own runner hands them over: a uint16 tensor
// where `declared` is bfloat16 is read as the bfloat16 values of its bits. Throws kInvalidArgument for bytes that
// are not such a value.
RuntimeValue read_test_value(const std::string& bytes, const TypeInfo& declared);

// The test_data_set_* folders of test folder `dir`, in name order.
std::vector<std::filesystem::path> test_data_sets(const std::filesystem::path& dir);

}  // namespace tessera
