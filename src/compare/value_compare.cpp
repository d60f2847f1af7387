#include "compare/value_compare.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <sstream>

#include "base/dtype_dispatch.h"

namespace tessera {

namespace {

template <typename T>
bool element_equal(const T& e, const T& a, const Tolerance& tol, bool is_float) {
  if constexpr (std::is_same_v<T, std::string>) {
    return e == a;
  } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
    auto close = [&](double x, double y) {
      if (std::isnan(x) && std::isnan(y)) return true;
      return std::fabs(x - y) <= tol.atol + tol.rtol * std::fabs(x);
    };
    return close(e.real(), a.real()) && close(e.imag(), a.imag());
  } else {
    const double x = element_to_double(e);
    const double y = element_to_double(a);
    if (!is_float) return x == y;
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    if (std::isinf(x) || std::isinf(y)) return x == y;
    return std::fabs(y - x) <= tol.atol + tol.rtol * std::fabs(x);
  }
}

template <typename T>
std::string element_text(const T& v) {
  std::ostringstream out;
  if constexpr (std::is_same_v<T, std::string>) out << '"' << v << '"';
  else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) out << v;
  else out << element_to_double(v);
  return out.str();
}

}  // namespace

std::string compare_tensors(const Tensor& expected, const Tensor& actual, const Tolerance& tolerance,
                            const std::vector<uint8_t>& not_compared) {
  if (expected.dtype() != actual.dtype()) {
    return "dtype differs: expected " + expected.description() + ", got " + actual.description();
  }
  if (expected.shape() != actual.shape()) {
    return "shape differs: expected " + expected.description() + ", got " + actual.description();
  }
  const bool masked = !not_compared.empty();
  if (masked && static_cast<int64_t>(not_compared.size()) != expected.element_count()) {
    fail(ErrorCode::kInvalidArgument, "compare_tensors: ", not_compared.size(), " not-compared flags for ",
         expected.description());
  }
  const bool is_float = dtype_is_float(expected.dtype()) || expected.dtype() == DType::kComplex64 ||
                        expected.dtype() == DType::kComplex128;
  return visit_dtype(expected.dtype(), [&](auto tag) -> std::string {
    using T = typename decltype(tag)::type;
    const T* e = expected.data<T>();
    const T* a = actual.data<T>();
    int64_t mismatches = 0;
    int64_t first = -1;
    for (int64_t i = 0; i < expected.element_count(); ++i) {
      if (masked && not_compared[static_cast<size_t>(i)] != 0) continue;
      if (!element_equal(e[i], a[i], tolerance, is_float)) {
        if (first < 0) first = i;
        ++mismatches;
      }
    }
    if (mismatches == 0) return {};
    std::ostringstream out;
    out << mismatches << " of " << expected.element_count() << " elements differ (" << expected.description()
        << "); first at flat index " << first << ": expected " << element_text(e[first]) << ", got "
        << element_text(a[first]);
    if (masked) {
      const auto skipped = std::count(not_compared.begin(), not_compared.end(), uint8_t{1});
      out << " (" << skipped << " elements the spec leaves undefined were not compared)";
    }
    return out.str();
  });
}

namespace {
// Maps match when their keys are equal (keys are int64 or string: compared exactly) and their values match.
std::string compare_maps(const MapValue& expected, const MapValue& actual, const Tolerance& tolerance) {
  std::string diff = compare_tensors(expected.keys, actual.keys, tolerance);
  if (!diff.empty()) return "map keys: " + diff;
  diff = compare_tensors(expected.values, actual.values, tolerance);
  return diff.empty() ? diff : "map values: " + diff;
}

// Sequences match when they have the same length and `compare` finds no difference between elements.
template <typename T, typename Compare>
std::string compare_sequences(const std::vector<T>& expected, const std::vector<T>& actual, Compare compare) {
  if (expected.size() != actual.size()) {
    return "sequence length differs: expected " + std::to_string(expected.size()) + ", got " +
           std::to_string(actual.size());
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    std::string diff = compare(expected[i], actual[i]);
    if (!diff.empty()) return "sequence element " + std::to_string(i) + ": " + diff;
  }
  return {};
}
}  // namespace

std::string compare_values(const RuntimeValue& expected, const RuntimeValue& actual, const Tolerance& tolerance) {
  if (expected.kind() != actual.kind()) {
    return "value kind differs: expected " + expected.description() + ", got " + actual.description();
  }
  if (expected.is_tensor()) return compare_tensors(expected.tensor(), actual.tensor(), tolerance);
  if (expected.is_map()) return compare_maps(expected.map_value(), actual.map_value(), tolerance);
  if (expected.is_sequence()) {
    return compare_sequences(expected.sequence_tensors(), actual.sequence_tensors(),
                             [&](const Tensor& e, const Tensor& a) { return compare_tensors(e, a, tolerance); });
  }
  if (expected.is_map_sequence()) {
    return compare_sequences(expected.maps(), actual.maps(),
                             [&](const MapValue& e, const MapValue& a) { return compare_maps(e, a, tolerance); });
  }
  return {};
}

}  // namespace tessera
