// Test inputs for the quantizing loops that divide by a scale through its reciprocal (simd::divide_by): scales
// across and beyond the range where the reciprocal is taken, and values on and next to every half step of them.
#pragma once

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace tessera::testing {

// A scale from 2^-70 to 2^70 (inside and outside 2^+-60, where the kernels stop taking the reciprocal).
inline float random_quotient_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> exponent(-70.0f, 70.0f), unit(-1.0f, 1.0f);
  return std::exp2(exponent(rng)) * (1.0f + 0.37f * std::fabs(unit(rng)));
}

// 1000 values to divide by `scale`: on a half step (x / scale a multiple of 0.5 within +-150), next to the one
// before, of any magnitude up to the float maximum, and within 300 steps; among them both infinities, NaN and the
// largest float.
inline std::vector<float> quotient_test_values(float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> exponent(-70.0f, 70.0f), unit(-1.0f, 1.0f);
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) {
    const float step = static_cast<float>(static_cast<int>(i % 600) - 300) * 0.5f;
    switch (i % 4) {
      case 0:
        x[i] = step * scale;
        break;
      case 1:
        x[i] = std::nextafter(step * scale, x[i - 1] + scale);
        break;
      case 2:
        x[i] = unit(rng) * std::exp2(exponent(rng) * 1.8f);
        break;
      default:
        x[i] = unit(rng) * 300.0f * scale;
        break;
    }
  }
  x[5] = std::numeric_limits<float>::infinity();
  x[9] = -std::numeric_limits<float>::infinity();
  x[13] = std::numeric_limits<float>::quiet_NaN();
  x[17] = std::numeric_limits<float>::max();
  return x;
}

}  // namespace tessera::testing
