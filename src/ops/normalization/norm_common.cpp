#include "ops/normalization/norm_common.h"

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"

namespace tessera {

bool is_norm_float(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble || dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

void check_norm_float(const Tensor& tensor, const char* op, const char* input_name) {
  check_argument(is_norm_float(tensor.dtype()), op, " does not support input ", input_name, " of type ",
                 tensor_text(tensor));
}

template <typename T>
std::vector<T> float_tensor_values(const Tensor& tensor) {
  std::vector<T> values(static_cast<size_t>(tensor.element_count()));
  visit_dtype(tensor.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, double> || kIsNarrowFloat<S>) {
      const S* src = tensor.data<S>();
      for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>(element_to_double(src[i]));
    } else {
      fail(ErrorCode::kInvalidArgument, "expected a float tensor, got ", tensor.description());
    }
  });
  return values;
}

template std::vector<float> float_tensor_values<float>(const Tensor&);
template std::vector<double> float_tensor_values<double>(const Tensor&);

}  // namespace tessera
