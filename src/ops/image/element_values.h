// Element conversions shared by the misc operator families (image, loss, detection, training): these ops
// compute in double whatever the element type, reading a tensor into doubles and storing doubles back.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/dtype_dispatch.h"
#include "base/tensor.h"

namespace tessera {

// True for the element types that convert to and from double: every integer width, bool and every float
// format (not strings, not complex).
bool dtype_is_real_number(DType dtype);

// True for float16, bfloat16, float and double (the "T: float tensors" constraint of most of these ops).
bool dtype_is_common_float(DType dtype);

// The elements of `tensor` (a real-number dtype) as doubles, row-major; throws kUnsupported naming `what`
// for other dtypes.
std::vector<double> tensor_to_doubles(const Tensor& tensor, const std::string& what);

// Converts a double to element type T (a real-number storage type): floats round to nearest, integers
// truncate toward zero and saturate (NaN becomes 0), bool is v != 0.
template <typename T>
T element_from_double_saturating(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T{0};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    // max() rounds up to a power of two for 64-bit types; anything at or above it saturates.
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else if constexpr (kIsSubByteInt<T>) {
    constexpr bool kSigned = std::is_same_v<T, Int4> || std::is_same_v<T, Int2>;
    constexpr int kBits = std::is_same_v<T, Int4> || std::is_same_v<T, UInt4> ? 4 : 2;
    constexpr double kLow = kSigned ? -(1 << (kBits - 1)) : 0;
    constexpr double kHigh = kSigned ? (1 << (kBits - 1)) - 1 : (1 << kBits) - 1;
    const double t = std::isnan(v) ? 0.0 : std::trunc(v);
    return element_from_double<T>(t < kLow ? kLow : (t > kHigh ? kHigh : t));
  } else {
    return element_from_double<T>(v);
  }
}

// True for the storage types element_from_double_saturating and element_to_double handle.
template <typename T>
inline constexpr bool kIsRealElement = !std::is_same_v<T, std::string> && !std::is_same_v<T, std::complex<float>> &&
                                       !std::is_same_v<T, std::complex<double>>;

// Stores values[0, out.element_count()) into `out`, converting to its dtype: floats round to nearest,
// integers truncate toward zero and saturate (NaN becomes 0), bool is value != 0.
void store_doubles(const double* values, Tensor& out);

// The single element of a one-element real-number tensor (any rank) as a double; throws kInvalidArgument
// naming `what` otherwise.
double scalar_to_double(const Tensor& tensor, const std::string& what);

}  // namespace tessera
