// Batch splitting: whether a compiled graph computes each item of its batch (the first dimension of every input and
// output) from that item alone, so that a run over N items can be run as N / s runs over s items each, on the memory
// plan of s items. A convolutional network's intermediates at batch 8 (MobileNetV2: 38 MB at 112x112) leave the
// caches between one layer and the next; one image's stay in L2/L3.
#pragma once

#include <string>

#include "ir/graph.h"

namespace tessera {

// The symbol of the batch dimension when every node of `graph` is item-wise along it, else "" with the first reason
// in `*why_not` (when not null). Item-wise: each graph input is a tensor whose first dimension is one symbol S (the
// same for all), each graph output is computed from the inputs through nodes that keep the first dimension as the
// item index and never combine items (element-wise ops, convolutions and pools, Gemm on a batch of rows, Flatten,
// Concat and Softmax along other axes, Transpose keeping axis 0, ...; the list is in batch_split.cpp), with every
// other node input a constant initializer that cannot vary along the batch. Conservative: an op not listed, a
// subgraph, a value computed from shapes (Shape, Size) or an initializer that might broadcast along the batch makes
// it "". Only for graphs after the optimizer's passes (the fused ops they write are listed).
std::string batch_split_symbol(const Graph& graph, std::string* why_not = nullptr);

// What one item of a batch costs a graph batch_split_symbol accepts: its convolutions' and Gemm / MatMul nodes'
// multiply-adds, and the bytes of every node output (inferred shapes past the first dimension; values of unknown
// shape not counted).
struct BatchItemCost {
  double multiply_adds = 0;
  double bytes = 0;
  // Multiply-adds per byte: low for networks that stream their activations (MobileNetV2 11, SqueezeNet 20), high
  // for compute-bound ones (ResNet-50 90), whose GEMMs on small planes gain from a whole batch as their rows.
  double intensity() const { return bytes > 0 ? multiply_adds / bytes : 0; }
};
BatchItemCost batch_item_cost(const Graph& graph);

// A graph splits its batch only when one item's intermediates reach this many bytes (below, a whole batch's stay in
// the caches, and every slice's run costs its own overhead: a 1000-row batch of a small MLP would run 1000 times)
// and its intensity stays below kSplitBatchMaxIntensity. Measured (AMD EPYC Zen 3, one thread, batch 8, old and new
// alternately): MobileNetV2 83.7 -> 77.5-79.2 ms and SqueezeNet 68.8-73.1 -> 65.9-66.9 split into single images,
// ResNet-50 680-709 -> 726-742 (slower: its 7x7 and 14x14 layers' GEMMs lose the batch's rows).
inline constexpr double kSplitBatchMinItemBytes = 1 << 20;
inline constexpr double kSplitBatchMaxIntensity = 40.0;

}  // namespace tessera
