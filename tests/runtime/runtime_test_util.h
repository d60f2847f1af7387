// Float tensors for the runtime tests: a smooth deterministic fill and the values back as a vector.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "base/tensor.h"

namespace tessera::testing {

// A float tensor of `shape` holding sin(i * scale) + offset at flat index i.
inline Tensor filled(std::vector<int64_t> shape, float scale, float offset) {
  Tensor t(DType::kFloat, std::move(shape));
  for (int64_t i = 0; i < t.element_count(); ++i) t.data<float>()[i] = std::sin(static_cast<float>(i) * scale) + offset;
  return t;
}

// A float tensor's elements in order.
inline std::vector<float> values_of(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.element_count()}; }

}  // namespace tessera::testing
