// DFT and STFT (naive O(n^2) transforms accumulated in double; correct for every length).
#include <climits>
#include <cmath>
#include <complex>

#include "base/dtype_dispatch.h"
#include "base/lazy_text.h"
#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

using Complex = std::complex<double>;

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.element_count()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (int64_t i = 0; i < t.element_count(); ++i) out[i] = element_to_double(t.data<T>()[i]);
    } else {
      fail(ErrorCode::kInvalidArgument, "expected a float tensor, got ", t.description());
    }
  });
  return out;
}

Tensor from_doubles(const std::vector<double>& values, DType dtype, std::vector<int64_t> shape) {
  Tensor out(dtype, std::move(shape));
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || kIsNarrowFloat<T>) {
      for (size_t i = 0; i < values.size(); ++i) out.data<T>()[i] = element_from_double<T>(values[i]);
    }
  });
  return out;
}

// Transforms `signal` (length n_in, zero-padded or cut to `length`) into `bins` outputs.
void transform(const std::vector<Complex>& signal, int64_t length, int64_t bins, bool inverse, std::vector<Complex>& out) {
  out.assign(static_cast<size_t>(bins), Complex(0, 0));
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t used = std::min<int64_t>(length, static_cast<int64_t>(signal.size()));
  for (int64_t k = 0; k < bins; ++k) {
    Complex sum(0, 0);
    for (int64_t n = 0; n < used; ++n) {
      const double angle = sign * 2.0 * M_PI * static_cast<double>((k * n) % length) / static_cast<double>(length);
      sum += signal[n] * Complex(std::cos(angle), std::sin(angle));
    }
    out[k] = inverse ? sum / static_cast<double>(length) : sum;
  }
}

std::unique_ptr<Kernel> make_dft(const KernelInfo& info) {
  const bool inverse = info.node.attr_int("inverse", 0) != 0;
  const bool onesided = info.node.attr_int("onesided", 0) != 0;
  const int64_t axis_attr = info.opset < 20 ? info.node.attr_int("axis", 1) : -2;
  const bool axis_is_input = info.opset >= 20;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const int64_t rank = static_cast<int64_t>(x.rank());
    check_argument(rank >= 2 && (x.dim(rank - 1) == 1 || x.dim(rank - 1) == 2),
                   "input must end in a dimension of 1 (real) or 2 (complex), got ", tensor_text(x));
    const bool complex_in = x.dim(rank - 1) == 2;
    int64_t axis = axis_attr;
    if (axis_is_input && ctx.has_input(2)) axis = tensor_to_int64s(ctx.input(2)).at(0);
    axis = normalize_axis(axis, rank);
    check_argument(axis < rank - 1, "axis ", axis, " is the complex dimension of ", tensor_text(x));
    const int64_t n_in = x.dim(axis);
    int64_t length = (onesided && inverse) ? 2 * (n_in - 1) : n_in;
    if (ctx.has_input(1)) length = tensor_to_int64s(ctx.input(1)).at(0);
    check_argument(length > 0, "dft_length must be positive, got ", length);
    const bool irfft = onesided && inverse;
    const int64_t bins = (onesided && !inverse) ? length / 2 + 1 : length;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int64_t i = axis + 1; i < rank - 1; ++i) inner *= x.dim(i);
    const std::vector<double> values = to_doubles(x);
    std::vector<int64_t> shape = x.shape();
    shape[axis] = bins;
    shape[rank - 1] = irfft ? 1 : 2;
    std::vector<double> result(static_cast<size_t>(outer * bins * inner * shape[rank - 1]));
    const int64_t channels = complex_in ? 2 : 1;
    std::vector<Complex> signal, spectrum;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        signal.assign(static_cast<size_t>(irfft ? length : n_in), Complex(0, 0));
        for (int64_t n = 0; n < n_in; ++n) {
          const int64_t at = ((o * n_in + n) * inner + i) * channels;
          signal[n] = Complex(values[at], complex_in ? values[at + 1] : 0.0);
        }
        if (irfft) {  // rebuild the full spectrum from its conjugate-symmetric half
          for (int64_t k = n_in; k < length; ++k) signal[k] = std::conj(signal[length - k]);
        }
        transform(signal, length, bins, inverse, spectrum);
        for (int64_t k = 0; k < bins; ++k) {
          const int64_t at = ((o * bins + k) * inner + i) * shape[rank - 1];
          result[at] = spectrum[k].real();
          if (!irfft) result[at + 1] = spectrum[k].imag();
        }
      }
    }
    ctx.set_output(0, from_doubles(result, x.dtype(), shape));
  });
}

std::unique_ptr<Kernel> make_stft(const KernelInfo& info) {
  const bool onesided = info.node.attr_int("onesided", 1) != 0;
  return make_kernel([=](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    check_argument(x.rank() == 3 && (x.dim(2) == 1 || x.dim(2) == 2), "signal must be [batch, length, 1 or 2], got ",
                   tensor_text(x));
    const int64_t step = tensor_to_int64s(ctx.input(1)).at(0);
    std::vector<double> window;
    if (ctx.has_input(2)) window = to_doubles(ctx.input(2));
    int64_t frame_length = ctx.has_input(3) ? tensor_to_int64s(ctx.input(3)).at(0) : static_cast<int64_t>(window.size());
    check_argument(frame_length > 0 && step > 0, "frame_length and frame_step must be positive");
    if (window.empty()) window.assign(static_cast<size_t>(frame_length), 1.0);
    check_argument(static_cast<int64_t>(window.size()) == frame_length, "window length ", window.size(),
                   " differs from frame_length ", frame_length);
    const int64_t batch = x.dim(0), length = x.dim(1), channels = x.dim(2);
    check_argument(length >= frame_length, "signal length ", length, " is shorter than frame_length ", frame_length);
    const int64_t frames = (length - frame_length) / step + 1;
    const int64_t bins = onesided ? frame_length / 2 + 1 : frame_length;
    const std::vector<double> values = to_doubles(x);
    std::vector<double> result(static_cast<size_t>(batch * frames * bins * 2));
    std::vector<Complex> signal(static_cast<size_t>(frame_length)), spectrum;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t f = 0; f < frames; ++f) {
        for (int64_t n = 0; n < frame_length; ++n) {
          const int64_t at = (b * length + f * step + n) * channels;
          signal[n] = Complex(values[at], channels == 2 ? values[at + 1] : 0.0) * window[n];
        }
        transform(signal, frame_length, bins, false, spectrum);
        for (int64_t k = 0; k < bins; ++k) {
          result[((b * frames + f) * bins + k) * 2] = spectrum[k].real();
          result[((b * frames + f) * bins + k) * 2 + 1] = spectrum[k].imag();
        }
      }
    }
    ctx.set_output(0, from_doubles(result, x.dtype(), {batch, frames, bins, 2}));
  });
}

const RegisterOp kDft{{.op_type = "DFT", .since_version = 17, .factory = make_dft}};
const RegisterOp kStft{{.op_type = "STFT", .since_version = 17, .factory = make_stft}};

}  // namespace
}  // namespace tessera
