// Window functions (HannWindow, HammingWindow, BlackmanWindow) and MelWeightMatrix.
#include <climits>
#include <cmath>

#include "base/dtype_dispatch.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

Tensor make_typed(const std::vector<double>& values, DType dtype, std::vector<int64_t> shape) {
  Tensor out(dtype, std::move(shape));
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::complex<float>> ||
                  std::is_same_v<T, std::complex<double>>) {
      fail(ErrorCode::kInvalidArgument, "unsupported output_datatype ", dtype_name(dtype));
    } else {
      for (size_t i = 0; i < values.size(); ++i) out.data<T>()[i] = element_from_double<T>(values[i]);
    }
  });
  return out;
}

int64_t scalar_int(const Tensor& t) { return tensor_to_int64s(t).at(0); }

double scalar_double(const Tensor& t) {
  double v = 0;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::string> && !std::is_same_v<T, std::complex<float>> &&
                  !std::is_same_v<T, std::complex<double>>) {
      v = element_to_double(t.data<T>()[0]);
    }
  });
  return v;
}

// a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N)
std::unique_ptr<Kernel> make_window(const KernelInfo& info, double a0, double a1, double a2) {
  const bool periodic = info.node.attr_int("periodic", 1) != 0;
  const DType dtype = static_cast<DType>(info.node.attr_int("output_datatype", static_cast<int64_t>(DType::kFloat)));
  return make_kernel([=](KernelContext& ctx) {
    const int64_t size = scalar_int(ctx.input(0));
    check_argument(size >= 0 && size < (int64_t{1} << 32), "window size ", size, " is out of range");
    const double n_total = periodic ? static_cast<double>(size) : static_cast<double>(size - 1);
    std::vector<double> w(static_cast<size_t>(size));
    for (int64_t n = 0; n < size; ++n) {
      const double x = 2.0 * M_PI * static_cast<double>(n) / n_total;
      w[n] = a0 - a1 * std::cos(x) + a2 * std::cos(2 * x);
    }
    ctx.set_output(0, make_typed(w, dtype, {size}));
  });
}

std::unique_ptr<Kernel> make_mel_weight_matrix(const KernelInfo& info) {
  const DType dtype = static_cast<DType>(info.node.attr_int("output_datatype", static_cast<int64_t>(DType::kFloat)));
  return make_kernel([=](KernelContext& ctx) {
    const int64_t mel_bins = scalar_int(ctx.input(0));
    const int64_t dft_length = scalar_int(ctx.input(1));
    const int64_t sample_rate = scalar_int(ctx.input(2));
    const double lower_hz = scalar_double(ctx.input(3));
    const double upper_hz = scalar_double(ctx.input(4));
    check_argument(mel_bins > 0 && dft_length > 0 && sample_rate > 0, "num_mel_bins, dft_length and sample_rate must be positive");
    const int64_t spectrogram_bins = dft_length / 2 + 1;
    const double low_mel = 2595.0 * std::log10(1.0 + lower_hz / 700.0);
    const double high_mel = 2595.0 * std::log10(1.0 + upper_hz / 700.0);
    // ONNX divides the mel range by the number of points (mel_bins + 2), not the number of gaps.
    const double step = (high_mel - low_mel) / static_cast<double>(mel_bins + 2);
    std::vector<int64_t> points(static_cast<size_t>(mel_bins + 2));
    for (int64_t i = 0; i < mel_bins + 2; ++i) {
      const double hz = 700.0 * (std::pow(10.0, (static_cast<double>(i) * step + low_mel) / 2595.0) - 1.0);
      points[i] = static_cast<int64_t>(std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
    }
    std::vector<double> out(static_cast<size_t>(spectrogram_bins * mel_bins), 0.0);
    auto set = [&](int64_t row, int64_t col, double v) {
      check_argument(row >= 0 && row < spectrogram_bins, "mel filter bin ", row, " is outside the spectrogram");
      out[row * mel_bins + col] = v;
    };
    for (int64_t i = 0; i < mel_bins; ++i) {
      const int64_t left = points[i], center = points[i + 1], right = points[i + 2];
      if (center - left == 0) set(center, i, 1.0);
      else for (int64_t j = left; j <= center; ++j) set(j, i, static_cast<double>(j - left) / static_cast<double>(center - left));
      if (right - center > 0) {
        for (int64_t j = center; j < right; ++j) set(j, i, static_cast<double>(right - j) / static_cast<double>(right - center));
      }
    }
    ctx.set_output(0, make_typed(out, dtype, {spectrogram_bins, mel_bins}));
  });
}

const RegisterOp kHann{{.op_type = "HannWindow", .since_version = 17,
                        .factory = [](const KernelInfo& i) { return make_window(i, 0.5, 0.5, 0.0); }}};
const RegisterOp kHamming{{.op_type = "HammingWindow", .since_version = 17,
                           .factory = [](const KernelInfo& i) { return make_window(i, 25.0 / 46.0, 21.0 / 46.0, 0.0); }}};
const RegisterOp kBlackman{{.op_type = "BlackmanWindow", .since_version = 17,
                            .factory = [](const KernelInfo& i) { return make_window(i, 0.42, 0.5, 0.08); }}};
const RegisterOp kMel{{.op_type = "MelWeightMatrix", .since_version = 17, .factory = make_mel_weight_matrix}};

}  // namespace
}  // namespace tessera
