// com.tessera ElementwiseChain: a chain of float32 elementwise ops computed in one pass over memory, block by block
// while each block stays in the L1 cache (what passes/elementwise_chain_fusion makes of Sigmoid -> Mul -> Add ...).
//
// Node form: inputs [X, operands...], one output Y of X's shape and dtype (float32). Attributes, one entry per
// step, in order:
//   steps          (strings) the op types, see elementwise_chain_step_supported
//   operands       (ints)    a binary step's other operand: an input index (0 = X itself), -1 for a unary step
//   operand_first  (ints)    1 when that operand is the op's first input (Sub(c, v), Div(c, v)), else 0
//   alphas         (floats)  LeakyRelu's alpha, 0 for the other steps
// Y = step_n(... step_1(X)). Every operand other than X holds one element or has X's shape. Each step computes
// exactly what the ONNX op of that name does on float32 (the same formulas, ops/elementwise/unary_ops.h).
#pragma once

#include <string>

namespace tessera {

// True for the op types ElementwiseChain takes as steps: the unary Relu, LeakyRelu, Sigmoid, Tanh, Exp, Erf,
// Abs, Neg, Sqrt, Reciprocal and the binary Add, Sub, Mul, Div.
bool elementwise_chain_step_supported(const std::string& op_type);

// True for the binary steps among them.
bool elementwise_chain_step_binary(const std::string& op_type);

}  // namespace tessera
