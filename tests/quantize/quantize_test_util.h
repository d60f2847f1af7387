// Helpers for the quantization tests.
#pragma once

#include <cmath>

#include "base/tensor.h"

namespace tessera::quantize::test {

// ||got - want|| / ||want|| over two float tensors of the same size.
inline double relative_l2(const Tensor& got, const Tensor& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.element_count(); ++i) {
    const double d = static_cast<double>(got.data<float>()[i]) - want.data<float>()[i];
    num += d * d;
    den += static_cast<double>(want.data<float>()[i]) * want.data<float>()[i];
  }
  return std::sqrt(num / den);
}

}  // namespace tessera::quantize::test
