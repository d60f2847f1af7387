// The RotaryEmbedding kernel (rotary_embedding.cpp) as a function, for operators that rotate their own Q and K
// (com.microsoft GroupQueryAttention).
#pragma once

#include <cstdint>

#include "base/parallel.h"
#include "base/tensor.h"

namespace tessera::transformer {

// RotaryEmbedding-23 of X (4-D (batch, heads, sequence, head_size), or 3-D (batch, sequence, heads * head_size)
// with num_heads) over its whole head size: cos_cache/sin_cache (max_position, head_size / 2) picked by
// position_ids (batch, sequence), pairs (x[j], x[j + half]) or (x[2j], x[2j+1]) when interleaved. Returns the
// rotated copy. Throws Error(kInvalidArgument) on inconsistent shapes or positions outside the caches.
Tensor rotary_embedding(const Tensor& x, const Tensor& cos_cache, const Tensor& sin_cache, const Tensor* position_ids,
                        bool interleaved, int64_t num_heads, Parallelism& parallelism);

}  // namespace tessera::transformer
