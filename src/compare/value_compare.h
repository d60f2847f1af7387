// Comparing run-time values the way ONNX's backend test runner does: same kind, dtype and shape; floats
// within |actual - expected| <= atol + rtol * |expected| with NaN equal to NaN; everything else exact.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/runtime_value.h"

namespace tessera {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

// Returns an empty string when `actual` matches `expected`, else a message describing the first difference
// (index, both values, and how many elements differ).
std::string compare_values(const RuntimeValue& expected, const RuntimeValue& actual, const Tolerance& tolerance);

// The same for two tensors. Elements whose flag in `not_compared` is 1 (flat order; an empty vector flags
// none) are left out: the conformance runner passes the elements the spec leaves undefined.
std::string compare_tensors(const Tensor& expected, const Tensor& actual, const Tolerance& tolerance,
                            const std::vector<uint8_t>& not_compared = {});

}  // namespace tessera
