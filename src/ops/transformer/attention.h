// The ONNX Attention kernel (attention.cpp) as a function, for operators that stage their own Q, K, V and mask
// (com.microsoft Attention) and reuse it rather than keeping a second attention kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/parallel.h"
#include "base/tensor.h"

namespace tessera::transformer {

// ONNX Attention-23 over packed float Q [B, S, heads * D], K [B, T, heads * D], V [B, T, heads * Dv] with an
// optional float additive mask broadcastable to [B, heads, S, T] (nullptr for none), `scale` (nullopt:
// 1 / sqrt(D)), no causal masking; returns Y [B, S, heads * Dv]. Work is split over `parallelism`. Throws
// Error(kInvalidArgument) on inconsistent shapes, naming `label` (the calling node).
Tensor packed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, int64_t heads,
                        std::optional<float> scale, Parallelism& parallelism, const std::string& label);

}  // namespace tessera::transformer
