#include "ops/image/element_values.h"

#include "base/lazy_text.h"

namespace tessera {

bool dtype_is_real_number(DType dtype) {
  return dtype != DType::kUndefined && dtype != DType::kString && dtype != DType::kComplex64 &&
         dtype != DType::kComplex128;
}

bool dtype_is_common_float(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble || dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

std::vector<double> tensor_to_doubles(const Tensor& tensor, const std::string& what) {
  std::vector<double> values(static_cast<size_t>(tensor.element_count()));
  visit_dtype(tensor.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsRealElement<T>) {
      const T* data = tensor.data<T>();
      for (size_t i = 0; i < values.size(); ++i) values[i] = element_to_double(data[i]);
    } else {
      fail(ErrorCode::kUnsupported, what, " ", tensor.description(), ": element type ", dtype_name(tensor.dtype()),
           " is not supported here");
    }
  });
  return values;
}

void store_doubles(const double* values, Tensor& out) {
  const int64_t count = out.element_count();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsRealElement<T>) {
      T* data = out.data<T>();
      for (int64_t i = 0; i < count; ++i) data[i] = element_from_double_saturating<T>(values[i]);
    } else {
      fail(ErrorCode::kUnsupported, "output ", out.description(), ": element type ", dtype_name(out.dtype()),
           " is not supported here");
    }
  });
}

double scalar_to_double(const Tensor& tensor, const std::string& what) {
  check_argument(tensor.element_count() == 1 && dtype_is_real_number(tensor.dtype()), what, " ", tensor_text(tensor),
                 " must hold exactly one number");
  return tensor_to_doubles(tensor, what)[0];
}

}  // namespace tessera
