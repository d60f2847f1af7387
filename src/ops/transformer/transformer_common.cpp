#include "ops/transformer/transformer_common.h"

#include "base/dtype_dispatch.h"
#include "base/error.h"
#include "base/lazy_text.h"

namespace tessera::transformer {

Precision precision_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat:
      return Precision::kFloat;
    case DType::kDouble:
      return Precision::kDouble;
    case DType::kFloat16:
      return Precision::kFloat16;
    case DType::kBFloat16:
      return Precision::kBFloat16;
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, "expected a float, double, float16 or bfloat16 type, got ", dtype_name(dtype));
}

float round_to(Precision p, float value) {
  switch (p) {
    case Precision::kFloat16:
      return half_to_float(float_to_half(value));
    case Precision::kBFloat16:
      return bfloat16_to_float(float_to_bfloat16(value));
    default:
      return value;
  }
}

void round_span(Precision p, float* data, int64_t n) {
  if (p == Precision::kFloat16) {
    for (int64_t i = 0; i < n; ++i) data[i] = half_to_float(float_to_half(data[i]));
  } else if (p == Precision::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) data[i] = bfloat16_to_float(float_to_bfloat16(data[i]));
  }
}

bool is_float_family(DType dtype) {
  return dtype == DType::kFloat || dtype == DType::kDouble || dtype == DType::kFloat16 || dtype == DType::kBFloat16;
}

void check_float_input(const Tensor& t, const char* op, const char* name, bool allow_double) {
  const bool ok = is_float_family(t.dtype()) && (allow_double || t.dtype() != DType::kDouble);
  check_argument(ok, op, ": input ", name, " must be float, float16 or bfloat16", allow_double ? " or double" : "",
                 ", got ", tensor_text(t));
}

void load_floats(const Tensor& t, int64_t offset, int64_t count, float* out) {
  switch (t.dtype()) {
    case DType::kFloat: {
      const float* src = t.data<float>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = src[i];
      return;
    }
    case DType::kDouble: {
      const double* src = t.data<double>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(src[i]);
      return;
    }
    case DType::kFloat16: {
      const Float16* src = t.data<Float16>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = half_to_float(src[i].bits);
      return;
    }
    case DType::kBFloat16: {
      const BFloat16* src = t.data<BFloat16>() + offset;
      for (int64_t i = 0; i < count; ++i) out[i] = bfloat16_to_float(src[i].bits);
      return;
    }
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, "expected a float-family tensor, got ", t.description());
}

std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.element_count()));
  load_floats(t, 0, t.element_count(), out.data());
  return out;
}

void store_floats(const float* values, int64_t count, Tensor& t, int64_t offset) {
  switch (t.dtype()) {
    case DType::kFloat: {
      float* dst = t.data<float>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = values[i];
      return;
    }
    case DType::kDouble: {
      double* dst = t.data<double>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = values[i];
      return;
    }
    case DType::kFloat16: {
      Float16* dst = t.data<Float16>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i].bits = float_to_half(values[i]);
      return;
    }
    case DType::kBFloat16: {
      BFloat16* dst = t.data<BFloat16>() + offset;
      for (int64_t i = 0; i < count; ++i) dst[i].bits = float_to_bfloat16(values[i]);
      return;
    }
    default:
      break;
  }
  fail(ErrorCode::kInvalidArgument, "expected a float-family tensor, got ", t.description());
}

Tensor tensor_from_floats(const std::vector<float>& values, DType dtype, std::vector<int64_t> shape) {
  Tensor t(dtype, std::move(shape));
  check_argument(t.element_count() == static_cast<int64_t>(values.size()), "tensor_from_floats: ", values.size(),
                 " values for ", tensor_text(t));
  store_floats(values.data(), t.element_count(), t, 0);
  return t;
}

Dim dim_product(const Dim& a, const Dim& b) {
  if (a.is_known() && b.is_known()) return Dim::known(a.value * b.value);
  return Dim{};
}

Dim dim_quotient(const Dim& d, int64_t divisor) {
  if (d.is_known() && divisor > 0 && d.value % divisor == 0) return Dim::known(d.value / divisor);
  return Dim{};
}

Dim dim_sum(const Dim& a, const Dim& b) {
  if (a.is_known() && b.is_known()) return Dim::known(a.value + b.value);
  return Dim{};
}

std::optional<std::vector<Dim>> dims_of_rank(const TypeInfo* t, size_t rank) {
  if (t == nullptr || !t->is_tensor() || !t->shape || t->shape->size() != rank) return std::nullopt;
  return *t->shape;
}

}  // namespace tessera::transformer
