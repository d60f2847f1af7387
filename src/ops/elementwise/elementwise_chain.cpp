// com.tessera ElementwiseChain (see elementwise_chain.h): the steps run over blocks of kBlock elements of Y, each
// block read from X (and the operands) once and written once; the pool splits the blocks.
#include "ops/elementwise/elementwise_chain.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "base/lazy_text.h"
#include "kernels/f32-vexact/f32-vexact.h"
#include "kernels/f32-vunary/f32-vunary.h"
#include "ops/elementwise/elementwise_common.h"
#include "ops/elementwise/unary_ops.h"

namespace tessera {
namespace {

using namespace elementwise;

enum class StepKind { kRelu, kLeakyRelu, kSigmoid, kTanh, kExp, kErf, kAbs, kNeg, kSqrt, kReciprocal, kAdd, kSub, kMul, kDiv };

struct StepName {
  const char* op_type;
  StepKind kind;
};
constexpr StepName kSteps[] = {
    {"Relu", StepKind::kRelu}, {"LeakyRelu", StepKind::kLeakyRelu}, {"Sigmoid", StepKind::kSigmoid},
    {"Tanh", StepKind::kTanh}, {"Exp", StepKind::kExp},             {"Erf", StepKind::kErf},
    {"Abs", StepKind::kAbs},   {"Neg", StepKind::kNeg},             {"Sqrt", StepKind::kSqrt},
    {"Reciprocal", StepKind::kReciprocal}, {"Add", StepKind::kAdd}, {"Sub", StepKind::kSub},
    {"Mul", StepKind::kMul},   {"Div", StepKind::kDiv},
};

const StepName* find_step(const std::string& op_type) {
  for (const StepName& s : kSteps) {
    if (op_type == s.op_type) return &s;
  }
  return nullptr;
}

bool is_binary(StepKind kind) { return kind >= StepKind::kAdd; }

struct Step {
  StepKind kind;
  int64_t operand = -1;  // input index, -1 for unary steps
  bool operand_first = false;
  float alpha = 0.0f;
};

// Elements per block: 16 KiB of Y, which stays in L1 through all the steps.
constexpr int64_t kBlock = 4096;

// Applies `step` in place to the block v[0, n) (elements [begin, begin + n) of Y); `operand` points at the
// operand's element `begin` (or its one element, stride 0). The same loops as the separate operators.
void apply_step(const Step& step, float* v, int64_t n, const float* operand, int64_t stride) {
  switch (step.kind) {
    case StepKind::kRelu: return vexact_unary_f32(VExactUnaryOpF32::kRelu, 0.0f, v, v, n);
    case StepKind::kLeakyRelu: return vexact_unary_f32(VExactUnaryOpF32::kLeakyRelu, step.alpha, v, v, n);
    case StepKind::kSigmoid: return vunary_f32(SigmoidOp::kVectorF32, v, v, n);
    case StepKind::kTanh: return vunary_f32(TanhOp::kVectorF32, v, v, n);
    case StepKind::kExp: return vunary_f32(ExpOp::kVectorF32, v, v, n);
    case StepKind::kErf: return vunary_f32(ErfOp::kVectorF32, v, v, n);
    case StepKind::kAbs: return vexact_unary_f32(VExactUnaryOpF32::kAbs, 0.0f, v, v, n);
    case StepKind::kNeg: return vexact_unary_f32(VExactUnaryOpF32::kNeg, 0.0f, v, v, n);
    case StepKind::kSqrt:
      for (int64_t i = 0; i < n; ++i) v[i] = std::sqrt(v[i]);
      return;
    case StepKind::kReciprocal: return vexact_unary_f32(VExactUnaryOpF32::kReciprocal, 0.0f, v, v, n);
    case StepKind::kAdd:
    case StepKind::kSub:
    case StepKind::kMul:
    case StepKind::kDiv: {
      const VBinaryOpF32 op = step.kind == StepKind::kAdd   ? VBinaryOpF32::kAdd
                              : step.kind == StepKind::kSub ? VBinaryOpF32::kSub
                              : step.kind == StepKind::kMul ? VBinaryOpF32::kMul
                                                            : VBinaryOpF32::kDiv;
      if (step.operand_first) return vbinary_f32(op, operand, stride, v, 1, v, n);
      return vbinary_f32(op, v, 1, operand, stride, v, n);
    }
  }
}

std::vector<Step> parse_steps(const Node& node) {
  const std::vector<std::string> names = node.attr_strings("steps");
  const std::vector<int64_t> operands = node.attr_ints("operands");
  const std::vector<int64_t> first = node.attr_ints("operand_first");
  const std::vector<float> alphas = node.attr_floats("alphas");
  check_model(!names.empty() && operands.size() == names.size() && first.size() == names.size() &&
                  alphas.size() == names.size(),
              node.label(), ": steps, operands, operand_first and alphas must have one entry per step (", names.size(),
              " steps)");
  std::vector<Step> steps;
  for (size_t i = 0; i < names.size(); ++i) {
    const StepName* s = find_step(names[i]);
    check_model(s != nullptr, node.label(), ": step ", i, " '", names[i], "' is not an ElementwiseChain step");
    Step step{s->kind, operands[i], first[i] != 0, alphas[i]};
    if (is_binary(s->kind)) {
      check_model(step.operand >= 0 && static_cast<size_t>(step.operand) < node.inputs.size(), node.label(), ": step ",
                  i, " (", names[i], ") reads input ", step.operand, " of ", node.inputs.size());
    } else {
      check_model(step.operand == -1, node.label(), ": unary step ", i, " (", names[i], ") must have operand -1");
    }
    steps.push_back(step);
  }
  return steps;
}

std::unique_ptr<Kernel> make_elementwise_chain(const KernelInfo& info) {
  const std::vector<Step> steps = parse_steps(info.node);
  return make_kernel([steps](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    // (if + fail: a check_argument would format the node's label on every run)
    if (x.dtype() != DType::kFloat) {
      fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": ElementwiseChain input X ", tensor_text(x),
           " must be float32");
    }
    const int64_t count = x.element_count();
    std::vector<const float*> data(ctx.input_count());
    std::vector<int64_t> strides(ctx.input_count(), 1);
    for (size_t i = 0; i < ctx.input_count(); ++i) {
      const Tensor& t = ctx.input(i);
      if (t.dtype() != DType::kFloat || (t.element_count() != 1 && t.shape() != x.shape())) {
        fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": ElementwiseChain operand ", i, " ", tensor_text(t),
             " must be float32 with one element or X's shape ", shape_text(x.shape()));
      }
      data[i] = t.data<float>();
      strides[i] = t.element_count() == 1 && count != 1 ? 0 : 1;
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kFloat, x.shape());
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const int64_t blocks = (count + kBlock - 1) / kBlock;
    ctx.parallelism().parallel_for(blocks, [&](int64_t first_block, int64_t last_block) {
      // The block is computed in a buffer of its own, so X (an operand of later steps) is never overwritten.
      alignas(64) float v[kBlock];
      for (int64_t b = first_block; b < last_block; ++b) {
        const int64_t begin = b * kBlock, n = std::min(kBlock, count - begin);
        std::copy(xd + begin, xd + begin + n, v);
        for (const Step& step : steps) {
          const float* operand = nullptr;
          int64_t stride = 0;
          if (step.operand >= 0) {
            stride = strides[static_cast<size_t>(step.operand)];
            operand = data[static_cast<size_t>(step.operand)] + begin * stride;
          }
          apply_step(step, v, n, operand, stride);
        }
        std::copy(v, v + n, yd + begin);
      }
    });
  });
}

void infer_elementwise_chain(InferenceContext& context) {
  const TypeInfo* x = context.input_type(0);
  if (x != nullptr) context.set_output_type(0, *x);
}

const RegisterOp kElementwiseChain{{.domain = kTesseraDomain, .op_type = "ElementwiseChain", .since_version = 1,
                                    .last_version = INT_MAX, .factory = make_elementwise_chain,
                                    .infer = infer_elementwise_chain}};

}  // namespace

bool elementwise_chain_step_supported(const std::string& op_type) { return find_step(op_type) != nullptr; }

bool elementwise_chain_step_binary(const std::string& op_type) {
  const StepName* s = find_step(op_type);
  return s != nullptr && is_binary(s->kind);
}

}  // namespace tessera
