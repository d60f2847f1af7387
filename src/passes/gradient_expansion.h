// Expands ai.onnx.preview.training Gradient nodes into the graph that computes them (reverse-mode
// differentiation): Gradient(xs, y) gives dy/dx for each x of xs with the upstream gradient all ones (the
// derivative of the sum of y's elements), through the nodes between them. Differentiable here: Add, Sub, Mul, Div
// (broadcasting operands get com.tessera SumToShapeOf), Neg, Identity, Relu, Sigmoid, Tanh, Exp, Log, Sqrt and 2-D
// MatMul; values listed in the node's `zs` are held constant. An x that y does not depend on gets zeros. Run by
// the session before its kernels are chosen, so the Gradient op itself never runs.
#pragma once

#include <cstdint>

#include "ir/graph.h"

namespace tessera {

// Rewrites every Gradient node of `graph` (not subgraphs) into ai.onnx nodes at `onnx_opset`; returns how many.
// Throws Error(kUnsupported) naming the node and op on the path from xs to y that it cannot differentiate.
int expand_gradients(Graph& graph, int64_t onnx_opset);

}  // namespace tessera
