#include "quantize/weight_quantization.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "base/lazy_text.h"

namespace tessera::quantize {

int WeightQuantization::qmin() const {
  if (type == DType::kUint8) return 0;
  if (reduce_range) return -64;
  return symmetric ? -127 : -128;
}

int WeightQuantization::qmax() const {
  if (type == DType::kUint8) return reduce_range ? 127 : 255;
  return reduce_range ? 64 : 127;
}

void scale_and_zero_point(float rmin, float rmax, const WeightQuantization& q, float& scale, int32_t& zero_point) {
  rmin = std::min(rmin, 0.0f);
  rmax = std::max(rmax, 0.0f);
  if (q.symmetric) {
    const float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  const int qmin = q.qmin(), qmax = q.qmax();
  scale = (rmax - rmin) / static_cast<float>(qmax - qmin);
  if (!(scale >= std::numeric_limits<float>::min())) {
    // An all-zero (or NaN) range: ONNX Runtime's tool uses scale 1 and keeps a symmetric range's middle.
    scale = 1.0f;
    zero_point = q.symmetric ? static_cast<int32_t>(std::nearbyint((qmin + qmax) / 2.0f)) : 0;
    return;
  }
  if (q.symmetric) {
    zero_point = static_cast<int32_t>(std::nearbyint((qmin + qmax) / 2.0f));
    return;
  }
  const float zp = std::nearbyint(static_cast<float>(qmin) - rmin / scale);
  zero_point = static_cast<int32_t>(std::clamp(zp, static_cast<float>(qmin), static_cast<float>(qmax)));
}

QuantParams quantize_weight(const Tensor& weight, const WeightQuantization& q, int64_t axis, Tensor& values) {
  check_argument(weight.dtype() == DType::kFloat, "only float32 weights are quantized, got ", tensor_text(weight));
  check_argument(q.type == DType::kInt8 || q.type == DType::kUint8, "weights quantize to int8 or uint8, not ",
                 dtype_name(q.type));
  const int64_t rank = static_cast<int64_t>(weight.rank());
  check_argument(axis < rank, "quantization axis ", axis, " out of range for ", tensor_text(weight));
  // Element i belongs to channel (i / inner) % channels.
  int64_t channels = 1, inner = 1;
  if (axis >= 0) {
    channels = weight.dim(axis);
    for (int64_t d = axis + 1; d < rank; ++d) inner *= weight.dim(d);
  }
  const float* w = weight.data<float>();
  const int64_t count = weight.element_count();
  std::vector<float> lo(static_cast<size_t>(channels), std::numeric_limits<float>::infinity());
  std::vector<float> hi(static_cast<size_t>(channels), -std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < count; ++i) {
    const size_t c = static_cast<size_t>((i / inner) % channels);
    lo[c] = std::min(lo[c], w[i]);
    hi[c] = std::max(hi[c], w[i]);
  }
  QuantParams params;
  params.scales.resize(static_cast<size_t>(channels));
  params.zero_points.resize(static_cast<size_t>(channels));
  for (size_t c = 0; c < static_cast<size_t>(channels); ++c) {
    if (lo[c] > hi[c]) lo[c] = hi[c] = 0.0f;  // an empty channel
    scale_and_zero_point(lo[c], hi[c], q, params.scales[c], params.zero_points[c]);
  }
  values = Tensor(q.type, weight.shape());
  const float qmin = static_cast<float>(q.qmin()), qmax = static_cast<float>(q.qmax());
  for (int64_t i = 0; i < count; ++i) {
    const size_t c = static_cast<size_t>((i / inner) % channels);
    float v = std::nearbyint(w[i] / params.scales[c]) + static_cast<float>(params.zero_points[c]);
    v = std::isnan(v) ? static_cast<float>(params.zero_points[c]) : std::clamp(v, qmin, qmax);  // NaN reads as 0
    if (q.type == DType::kInt8) {
      values.data<int8_t>()[i] = static_cast<int8_t>(v);
    } else {
      values.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
  }
  return params;
}

QuantParams quantize_lstm_weight(const Tensor& weight, const WeightQuantization& q, bool per_row, Tensor& values) {
  check_argument(weight.rank() == 3, "an LSTM weight is [directions, 4 * hidden, size], got ", tensor_text(weight));
  const int64_t dirs = weight.dim(0), rows = weight.dim(1), columns = weight.dim(2);
  Tensor row_major;
  // Per direction: channels along axis 0; per row: the weight seen as [dirs * 4 * hidden, size], channels its rows.
  const QuantParams params =
      quantize_weight(per_row ? weight.reshaped({dirs * rows, columns}) : weight, q, 0, row_major);
  values = Tensor(q.type, {dirs, columns, rows});
  const uint8_t* from = row_major.data<uint8_t>();
  uint8_t* to = values.data<uint8_t>();
  for (int64_t d = 0; d < dirs; ++d)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < columns; ++c) to[(d * columns + c) * rows + r] = from[(d * rows + r) * columns + c];
  return params;
}

}  // namespace tessera::quantize
