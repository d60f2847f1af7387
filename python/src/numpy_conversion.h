// Conversion between numpy arrays and Tessera values at the Python boundary. Both directions avoid copies
// where memory can be shared safely; all functions need the GIL.
#pragma once

#include <nanobind/nanobind.h>

#include "base/runtime_value.h"

namespace tessera::python {

// A Tensor of `dtype` over `array`'s memory. `array` must support the buffer protocol with an item size of
// dtype_size(dtype) (the tessera package passes bfloat16/float8 arrays as same-sized unsigned views). A
// C-contiguous, element-aligned buffer is borrowed, not copied: the tensor keeps the buffer (and so the array)
// alive. Strings (kString) take an object or str array and are copied. Throws Error(kInvalidArgument) naming
// `input_name` on a mismatch.
Tensor tensor_from_array(const std::string& input_name, nanobind::handle array, DType dtype);

// A map feed from the tessera package: the tuple (keys array, key ONNX type, values array, value ONNX type) that
// _session.py builds from a dict. Keys are sorted and a repeated key keeps its last value. Throws
// Error(kInvalidArgument) naming `input_name` for key or value types a map cannot hold.
RuntimeValue map_from_python(const std::string& input_name, nanobind::handle entry);

// A Python object for one output value: a numpy array for a tensor (its memory handed over without a copy
// when nothing else holds it; copied when it is shared with an initializer, a feed or another output), a list
// of them for a sequence, a dict for a map (int or str keys; float, int or str values), a list of dicts for a
// sequence of maps, None for an empty optional. Tensors whose dtype numpy lacks come back as
// ("view", onnx_dtype, array_of_same_sized_unsigned_ints); strings as ("strings", shape, list_of_str).
nanobind::object value_to_python(RuntimeValue&& value);

}  // namespace tessera::python
