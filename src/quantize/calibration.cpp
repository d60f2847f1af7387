#include "quantize/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "base/error.h"
#include "quantize/value_capture.h"

namespace tessera::quantize {
namespace {

// The range of one sample's tensor, ignoring NaN.
TensorRange sample_range(const Tensor& t) {
  TensorRange r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  const float* v = t.data<float>();
  for (int64_t i = 0; i < t.element_count(); ++i) {
    r.min = v[i] < r.min ? v[i] : r.min;
    r.max = v[i] > r.max ? v[i] : r.max;
  }
  return r;
}

// KL divergence of distribution q from p (both unnormalized; bins where p is 0 add nothing; q's zeros under p's
// mass are smoothed).
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  if (sp == 0 || sq == 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) continue;
    const double pi = p[i] / sp;
    const double qi = std::max(q[i] / sq, 1e-12);
    kl += pi * std::log(pi / qi);
  }
  return kl;
}

// TensorRT's entropy calibration: the number of bins whose clipped histogram, quantized to `levels` levels, has
// the smallest KL divergence from the clipped reference.
int entropy_bins(const std::vector<double>& h, int levels) {
  const int bins = static_cast<int>(h.size());
  if (bins <= levels) return bins;
  double best = std::numeric_limits<double>::infinity();
  int best_i = bins;
  std::vector<double> reference, candidate;
  for (int i = levels; i <= bins; ++i) {
    reference.assign(h.begin(), h.begin() + i);
    double outliers = 0;
    for (int k = i; k < bins; ++k) outliers += h[static_cast<size_t>(k)];
    reference.back() += outliers;
    // The first i bins merged into `levels` chunks, each chunk's mass spread over its non-empty bins.
    candidate.assign(static_cast<size_t>(i), 0.0);
    const int merged = i / levels;
    for (int j = 0; j < levels; ++j) {
      const int start = j * merged;
      const int stop = j == levels - 1 ? i : start + merged;
      double total = 0;
      int nonzero = 0;
      for (int k = start; k < stop; ++k) {
        total += h[static_cast<size_t>(k)];
        nonzero += h[static_cast<size_t>(k)] != 0;
      }
      if (nonzero == 0) continue;
      for (int k = start; k < stop; ++k) {
        if (h[static_cast<size_t>(k)] != 0) candidate[static_cast<size_t>(k)] = total / nonzero;
      }
    }
    const double kl = kl_divergence(reference, candidate);
    if (kl < best) best = kl, best_i = i;
  }
  return best_i;
}

}  // namespace

CalibrationMethod parse_calibration_method(const std::string& text) {
  if (text == "minmax" || text == "MinMax") return CalibrationMethod::kMinMax;
  if (text == "percentile" || text == "Percentile") return CalibrationMethod::kPercentile;
  if (text == "entropy" || text == "Entropy") return CalibrationMethod::kEntropy;
  fail(ErrorCode::kInvalidArgument, "unknown calibration method '", text, "' (use minmax, percentile or entropy)");
}

float histogram_threshold(const std::vector<double>& histogram, float max_abs, const CalibrationOptions& options) {
  const int bins = static_cast<int>(histogram.size());
  if (bins == 0 || max_abs <= 0) return max_abs;
  const double width = static_cast<double>(max_abs) / bins;
  if (options.method == CalibrationMethod::kEntropy) {
    return static_cast<float>(entropy_bins(histogram, options.quantized_bins) * width);
  }
  double total = 0;
  for (double c : histogram) total += c;
  const double keep = total * std::clamp(options.percentile, 0.0, 100.0) / 100.0;
  double seen = 0;
  for (int i = 0; i < bins; ++i) {
    seen += histogram[static_cast<size_t>(i)];
    if (seen >= keep) return static_cast<float>((i + 1) * width);
  }
  return max_abs;
}

CalibrationTable calibrate(Model model, const std::vector<std::string>& tensors, const std::vector<Feeds>& data,
                           const CalibrationOptions& options, const std::function<void(size_t, size_t)>& progress) {
  check_argument(!data.empty(), "calibration needs at least one sample");
  // Optimizations disabled: every value keeps its name.
  const ValueCapture capture(std::move(model), tensors, OptimizationLevel::kDisabled, options.intra_op_threads);
  const bool histograms = options.method != CalibrationMethod::kMinMax;
  const size_t total = data.size() * (histograms ? 2 : 1);
  size_t done = 0;
  // Runs one sample and calls `visit(name, tensor)` for every tensor to calibrate.
  auto run_sample = [&](const Feeds& feeds, const std::function<void(const std::string&, const Tensor&)>& visit) {
    const std::map<std::string, Tensor> values = capture.run(feeds);
    for (const std::string& name : tensors) {
      auto found = values.find(name);
      check_argument(found != values.end(), "calibration run did not produce '", name, "'");
      visit(name, found->second);
    }
    if (progress) progress(++done, total);
  };

  CalibrationTable table;
  std::set<std::string> seen;
  for (const Feeds& feeds : data) {
    run_sample(feeds, [&](const std::string& name, const Tensor& t) {
      if (t.element_count() == 0) return;
      const TensorRange r = sample_range(t);
      if (!std::isfinite(r.min) || !std::isfinite(r.max)) return;  // all NaN
      if (seen.insert(name).second) {
        table[name] = r;
      } else if (options.moving_average && options.method == CalibrationMethod::kMinMax) {
        TensorRange& m = table[name];
        m.min += options.averaging_constant * (r.min - m.min);
        m.max += options.averaging_constant * (r.max - m.max);
      } else {
        TensorRange& m = table[name];
        m.min = std::min(m.min, r.min);
        m.max = std::max(m.max, r.max);
      }
    });
  }
  if (!histograms) return table;

  // Second pass: histograms of |x| over [0, max |x|], then each method's threshold clips the range.
  const int bins = std::max(options.histogram_bins, 1);
  std::map<std::string, std::vector<double>> hist;
  for (const Feeds& feeds : data) {
    run_sample(feeds, [&](const std::string& name, const Tensor& t) {
      auto range = table.find(name);
      if (range == table.end()) return;
      const float max_abs = std::max(std::fabs(range->second.min), std::fabs(range->second.max));
      std::vector<double>& h = hist[name];
      if (h.empty()) h.assign(static_cast<size_t>(bins), 0.0);
      if (max_abs <= 0) return;
      const float per_bin = bins / max_abs;
      const float* v = t.data<float>();
      for (int64_t i = 0; i < t.element_count(); ++i) {
        const float a = std::fabs(v[i]);
        if (!(a <= max_abs)) continue;  // NaN
        h[static_cast<size_t>(std::min(static_cast<int>(a * per_bin), bins - 1))] += 1;
      }
    });
  }
  for (auto& [name, range] : table) {
    const float max_abs = std::max(std::fabs(range.min), std::fabs(range.max));
    const float t = histogram_threshold(hist[name], max_abs, options);
    range.min = std::max(range.min, -t);
    range.max = std::min(range.max, t);
  }
  return table;
}

}  // namespace tessera::quantize
