// Message parts formatted only when a message is built. check_argument / check_model take their parts by value
// of the expressions, so `shape_to_string(x)` or `t.description()` among them formats a string (and allocates) on
// every call, including every run of a kernel whose checks pass; shape_text / tensor_text defer that to the
// failure, when fail() streams them.
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "base/tensor.h"

namespace tessera {

// A shape streamed as shape_to_string writes it. Holds a reference: use within the full expression.
struct ShapeText {
  const std::vector<int64_t>& dims;
};
inline ShapeText shape_text(const std::vector<int64_t>& dims) { return ShapeText{dims}; }
inline std::ostream& operator<<(std::ostream& out, const ShapeText& s) { return out << shape_to_string(s.dims); }

// A tensor streamed as its description() ("float32[1,3,224,224]"). Holds a reference: use within the full
// expression.
struct TensorText {
  const Tensor& tensor;
};
inline TensorText tensor_text(const Tensor& t) { return TensorText{t}; }
inline std::ostream& operator<<(std::ostream& out, const TensorText& t) { return out << t.tensor.description(); }

}  // namespace tessera
