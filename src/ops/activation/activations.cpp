// Pointwise activations with attributes read once per node: Sigmoid, Tanh, Relu, LeakyRelu, Elu, Selu, Celu,
// Gelu, HardSigmoid, HardSwish, Softplus, Softsign, Mish, ThresholdedRelu, Shrink. Float32 Sigmoid, Tanh and
// Gelu run the SIMD loops of kernels/f32-vunary; everything else calls the standard library.
// Versions of each op differ only in accepted types (and Selu's defaults before opset 6), so one registration
// covers every version from the first.
#include <climits>
#include <cmath>
#include <string>
#include <type_traits>

#include "ops/common/op_utils.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/fast_math.h"
#include "ops/elementwise/unary_ops.h"

namespace tessera {
namespace {

using namespace elementwise;

struct EluOp {
  float alpha;
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? static_cast<C>(alpha) * std::expm1(x) : x;
  }
};

struct SeluOp {
  float alpha;
  float gamma;
  template <typename C>
  C operator()(C x) const {
    return static_cast<C>(gamma) * (x > C(0) ? x : static_cast<C>(alpha) * std::expm1(x));
  }
};

struct CeluOp {
  float alpha;
  template <typename C>
  C operator()(C x) const {
    const C a = static_cast<C>(alpha);
    return x > C(0) ? x : a * std::expm1(x / a);
  }
};

// Gelu as 0.5 * x * erfc(-x / sqrt 2): accurate also where 1 + erf(x / sqrt 2) is tiny.
struct GeluErfOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kGeluErf;
  float operator()(float x) const { return fast_math::gelu_erf_f32(x); }
  double operator()(double x) const { return 0.5 * x * std::erfc(-0.7071067811865476 * x); }
};

// Gelu's tanh approximation as x * sigmoid(2u): the same value without the cancellation in 1 + tanh(u).
struct GeluTanhOp {
  static constexpr VUnaryOpF32 kVectorF32 = VUnaryOpF32::kGeluTanh;
  float operator()(float x) const { return fast_math::gelu_tanh_f32(x); }
  double operator()(double x) const {
    const double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return x / (1.0 + std::exp(-2.0 * u));
  }
};

struct HardSigmoidOp {
  float alpha;
  float beta;
  template <typename C>
  C operator()(C x) const {
    const C v = static_cast<C>(alpha) * x + static_cast<C>(beta);
    return fast_math::select(v < C(0), C(0), fast_math::select(v > C(1), C(1), v));
  }
};

struct HardSwishOp {
  template <typename C>
  C operator()(C x) const {
    const C v = C(1.0 / 6.0) * x + C(0.5);
    return x * fast_math::select(v < C(0), C(0), fast_math::select(v > C(1), C(1), v));
  }
};

// log(1 + exp(x)) without overflow for large x.
template <typename C>
C softplus(C x) {
  return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

struct SoftplusOp {
  template <typename C>
  C operator()(C x) const {
    return softplus(x);
  }
};

struct SoftsignOp {
  template <typename C>
  C operator()(C x) const {
    return x / (C(1) + std::fabs(x));
  }
};

struct MishOp {
  template <typename C>
  C operator()(C x) const {
    return x * std::tanh(softplus(x));
  }
};

struct ThresholdedReluOp {
  float alpha;
  template <typename C>
  C operator()(C x) const {
    return fast_math::select(x > static_cast<C>(alpha), x, C(0));
  }
};

struct ShrinkOp {
  float lambd;
  float bias;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      const C l = static_cast<C>(lambd);
      const C b = static_cast<C>(bias);
      return fast_math::select(x < -l, x + b, fast_math::select(x > l, x - b, C(0)));
    } else {
      const double v = static_cast<double>(x);
      const double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
      return static_cast<C>(static_cast<int64_t>(r));
    }
  }
};

std::unique_ptr<Kernel> make_sigmoid(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(SigmoidOp{}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_tanh(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(TanhOp{}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_relu(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes | kSignedIntTypes>(ReluOp{}, kCheapGrain);
}
std::unique_ptr<Kernel> make_leaky_relu(const KernelInfo& info) {
  return make_unary_kernel<kFloatTypes>(LeakyReluOp{info.node.attr_float("alpha", 0.01f)}, kCheapGrain);
}
std::unique_ptr<Kernel> make_elu(const KernelInfo& info) {
  return make_unary_kernel<kFloatTypes>(EluOp{info.node.attr_float("alpha", 1.0f)}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_selu(const KernelInfo& info) {
  // Opset 1 documented shorter defaults.
  const bool legacy = info.opset < 6;
  const float alpha = info.node.attr_float("alpha", legacy ? 1.6732f : 1.67326319217681884765625f);
  const float gamma = info.node.attr_float("gamma", legacy ? 1.0507f : 1.05070102214813232421875f);
  return make_unary_kernel<kFloatTypes>(SeluOp{alpha, gamma}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_celu(const KernelInfo& info) {
  const float alpha = info.node.attr_float("alpha", 1.0f);
  check_model(alpha != 0.0f, "attribute 'alpha' must be nonzero");
  return make_unary_kernel<kFloatTypes>(CeluOp{alpha}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_gelu(const KernelInfo& info) {
  const std::string approximate = info.node.attr_string("approximate", "none");
  check_model(approximate == "none" || approximate == "tanh",
              "attribute 'approximate' must be \"none\" or \"tanh\", got \"", approximate, "\"");
  if (approximate == "tanh") return make_unary_kernel<kFloatTypes>(GeluTanhOp{}, kTranscendentalGrain);
  return make_unary_kernel<kFloatTypes>(GeluErfOp{}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_hard_sigmoid(const KernelInfo& info) {
  const HardSigmoidOp op{info.node.attr_float("alpha", 0.2f), info.node.attr_float("beta", 0.5f)};
  return make_unary_kernel<kFloatTypes>(op, kCheapGrain);
}
std::unique_ptr<Kernel> make_hard_swish(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(HardSwishOp{}, kCheapGrain);
}
std::unique_ptr<Kernel> make_softplus(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(SoftplusOp{}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_softsign(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(SoftsignOp{}, kCheapGrain);
}
std::unique_ptr<Kernel> make_mish(const KernelInfo&) {
  return make_unary_kernel<kFloatTypes>(MishOp{}, kTranscendentalGrain);
}
std::unique_ptr<Kernel> make_thresholded_relu(const KernelInfo& info) {
  return make_unary_kernel<kFloatTypes>(ThresholdedReluOp{info.node.attr_float("alpha", 1.0f)}, kCheapGrain);
}
std::unique_ptr<Kernel> make_shrink(const KernelInfo& info) {
  const ShrinkOp op{info.node.attr_float("lambd", 0.5f), info.node.attr_float("bias", 0.0f)};
  return make_unary_kernel<kNumericTypes>(op, kCheapGrain);
}

OpRegistration activation(const char* op_type, int64_t since_version, KernelFactory factory) {
  return {.op_type = op_type,
          .since_version = since_version,
          .last_version = INT_MAX,
          .factory = std::move(factory),
          .infer = infer_same_as_input};
}

const RegisterOp kSigmoid{activation("Sigmoid", 1, make_sigmoid)};
const RegisterOp kTanh{activation("Tanh", 1, make_tanh)};
const RegisterOp kRelu{activation("Relu", 1, make_relu)};
const RegisterOp kLeakyRelu{activation("LeakyRelu", 1, make_leaky_relu)};
const RegisterOp kElu{activation("Elu", 1, make_elu)};
const RegisterOp kSelu{activation("Selu", 1, make_selu)};
const RegisterOp kCelu{activation("Celu", 12, make_celu)};
const RegisterOp kGelu{activation("Gelu", 20, make_gelu)};
// ONNX Runtime's contrib Gelu (the erf form; what its optimizer and Tessera's gelu_fusion pass write).
const RegisterOp kMicrosoftGelu{{.domain = "com.microsoft", .op_type = "Gelu", .since_version = 1,
                                 .last_version = INT_MAX, .factory = make_gelu, .infer = infer_same_as_input}};
const RegisterOp kHardSigmoid{activation("HardSigmoid", 1, make_hard_sigmoid)};
const RegisterOp kHardSwish{activation("HardSwish", 14, make_hard_swish)};
const RegisterOp kSoftplus{activation("Softplus", 1, make_softplus)};
const RegisterOp kSoftsign{activation("Softsign", 1, make_softsign)};
const RegisterOp kMish{activation("Mish", 18, make_mish)};
const RegisterOp kThresholdedRelu{activation("ThresholdedRelu", 10, make_thresholded_relu)};
const RegisterOp kShrink{activation("Shrink", 9, make_shrink)};

}  // namespace
}  // namespace tessera
