// Which output elements of a model the ONNX specification leaves undefined for given feeds, so that a
// conformance comparison can skip exactly those (and compare every element the spec does define).
//
// Today one rule: an output produced by Cast or CastLike from a floating type (float, double, float16,
// bfloat16, float8) to an integer type (int2 ... int64, uint2 ... uint64) from a graph input, directly or
// through Casts that only widen float16/bfloat16 to float.
// The spec says float -> fixed point truncates toward zero and is undefined when the truncated value is out
// of the target's range (NaN and infinities included); the reference implementation then gives whatever
// NumPy / ml_dtypes give on the machine that generated the expectations, which differs between CPUs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/tensor.h"
#include "ir/graph.h"

namespace tessera {

// Flags (1 = undefined) for the elements of graph output `output_name`, in flat order, or an empty vector
// when every element is defined (or no rule applies). `feeds` maps graph input names to the values fed.
std::vector<uint8_t> spec_undefined_elements(const Graph& graph, const std::string& output_name,
                                             const std::map<std::string, const Tensor*>& feeds);

// True when the truncation toward zero of `value` is representable in integer dtype `target`; false for NaN
// and infinities. Throws kInvalidArgument when `target` is not an integer type.
bool float_to_integer_is_defined(double value, DType target);

}  // namespace tessera
