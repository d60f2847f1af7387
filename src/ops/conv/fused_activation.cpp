#include "ops/conv/fused_activation.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "kernels/f32-vunary/f32-vunary.h"

namespace tessera::conv {

namespace {

void expect_params(const Node& node, const std::string& name, const std::vector<float>& params, size_t count) {
  if (params.size() != count) {
    fail(ErrorCode::kInvalidModel, node.label(), ": activation '", name, "' takes ", count,
         " activation_params, got ", params.size());
  }
}

}  // namespace

FusedActivation parse_fused_activation(const Node& node) {
  FusedActivation a;
  const std::string name = node.attr_string("activation", "");
  const std::vector<float> params = node.attr_floats("activation_params");
  using Kind = FusedActivation::Kind;
  if (name.empty()) {
    a.kind = Kind::kNone;
  } else if (name == "Relu") {
    a.kind = Kind::kRelu;
    a.clamp_min = 0.0f;
  } else if (name == "Clip") {
    expect_params(node, name, params, 2);
    a.kind = Kind::kClip;
    a.clamp_min = params[0];
    a.clamp_max = params[1];
  } else if (name == "LeakyRelu") {
    expect_params(node, name, params, 1);
    a.kind = Kind::kLeakyRelu;
    a.alpha = params[0];
  } else if (name == "Sigmoid") {
    a.kind = Kind::kSigmoid;
  } else if (name == "Tanh") {
    a.kind = Kind::kTanh;
  } else if (name == "HardSigmoid") {
    expect_params(node, name, params, 2);
    a.kind = Kind::kHardSigmoid;
    a.alpha = params[0];
    a.beta = params[1];
  } else {
    fail(ErrorCode::kInvalidModel, node.label(), ": unknown activation '", name,
         "' (Relu, Clip, LeakyRelu, Sigmoid, Tanh or HardSigmoid)");
  }
  return a;
}

void apply_fused_activation(const FusedActivation& activation, float* y, int64_t count, Parallelism& parallelism) {
  using Kind = FusedActivation::Kind;
  if (activation.is_clamp() || count <= 0) return;
  constexpr int64_t kChunk = 16384;
  parallelism.parallel_for((count + kChunk - 1) / kChunk, [&](int64_t begin, int64_t end) {
    float* p = y + begin * kChunk;
    const int64_t n = std::min(count, end * kChunk) - begin * kChunk;
    switch (activation.kind) {
      case Kind::kSigmoid: vunary_f32(VUnaryOpF32::kSigmoid, p, p, n); break;
      case Kind::kTanh: vunary_f32(VUnaryOpF32::kTanh, p, p, n); break;
      case Kind::kLeakyRelu:
        for (int64_t i = 0; i < n; ++i) p[i] = p[i] < 0.0f ? activation.alpha * p[i] : p[i];
        break;
      case Kind::kHardSigmoid:
        for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(activation.alpha * p[i] + activation.beta, 0.0f, 1.0f);
        break;
      default: break;
    }
  });
}

}  // namespace tessera::conv
