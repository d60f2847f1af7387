// What com.microsoft Attention (contrib_attention.cpp) shares with the ops that stage its Q, K and V another way
// (com.microsoft QAttention, whose projection runs on the q8 GEMM): the common attributes, the split of the packed
// projection, and the attention with ONNX Runtime's mask_index forms and the present output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ops/kernel.h"

namespace tessera::transformer {

// The attributes of com.microsoft Attention, QAttention and MultiHeadAttention.
struct ContribAttentionConfig {
  int64_t heads = 0;
  bool unidirectional = false;
  std::vector<int64_t> qkv_sizes;  // empty: three equal parts of the weight's columns
  float mask_filter_value = -10000.0f;
  std::optional<float> scale;
  std::string label;  // the node, for messages
};

// num_heads (> 0), unidirectional (0 or 1), mask_filter_value and scale of `node`; throws kInvalidModel naming
// the node for bad values. qkv_sizes is left empty.
ContribAttentionConfig parse_contrib_attention_attributes(const Node& node);

// Where a kernel's optional inputs are: mask_index (int32, ONNX Runtime's CPU forms), attention_bias (float
// [1 or B, 1 or heads, S, T]) and past (float [2, B, heads, P, head size]); an index past the node's inputs reads as
// absent.
struct ContribAttentionInputs {
  size_t mask, bias, past;
};

// The packed projection qkv [batch * seq, sum(sizes)] (float) cut into [batch, seq, size] tensors, one per size.
std::vector<Tensor> split_qkv_columns(const Tensor& qkv, int64_t batch, int64_t seq, const std::vector<int64_t>& sizes);

// The attention of com.microsoft Attention over staged Q, K, V ([B, S, size] each): the past state's P keys and
// values in front of K and V (T = P + S), masks over T keys from `inputs` and `unidirectional` (query s at position
// P + s), ONNX Attention's kernel (transformer::packed_attention), output 0 [B, S, Hv] and, when wanted, output 1
// present [2, B, heads, T, head size]. Throws kInvalidArgument naming the node for bad masks or past.
void attend_packed_qkv(const ContribAttentionConfig& c, KernelContext& ctx, const std::vector<Tensor>& qkv,
                       ContribAttentionInputs inputs);

}  // namespace tessera::transformer
