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

// ONNX Attention-25 over 4-D Q [B, q_heads, S, D], K [B, kv_heads, T, D], V [B, kv_heads, T, Dv] (q_heads a
// multiple of kv_heads: grouped-query attention) for com.microsoft GroupQueryAttention: keys at or past
// valid_keys[b] (int64 [B]) are masked and query i of batch b sits at position valid_keys[b] - S + i, for `causal`
// masking and a `left_window` (keys more than that many positions before the query masked; -1: none). An optional
// float additive mask broadcastable to [B, q_heads, S, T], `scale` (nullopt: 1 / sqrt(D)), `softcap` (0: none).
// Returns Y [B, q_heads, S, Dv]; query rows with no key left are zero. Throws Error(kInvalidArgument) naming
// `label` on inconsistent shapes.
Tensor grouped_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask,
                         const Tensor& valid_keys, bool causal, int64_t left_window, std::optional<float> scale,
                         float softcap, Parallelism& parallelism, const std::string& label);

}  // namespace tessera::transformer
