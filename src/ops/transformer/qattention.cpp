// com.microsoft QAttention (the op onnxruntime.quantization.quantize_dynamic writes for com.microsoft Attention):
// input [B, S, In] uint8 (int8 accepted too) with input_scale and input_zero_point (per tensor), weight [In, 3H]
// int8 or uint8 with weight_scale and weight_zero_point per tensor or per column, bias [3H] float. As ONNX
// Runtime's CPU kernel: the exact int32 products of the q8 GEMM, dequantized as float(S) * (input_scale *
// weight_scale[j]) + bias[j], then the float attention of com.microsoft Attention (mask_index in its CPU forms,
// unidirectional, scale, mask_filter_value; a past state (input 8) in front of K and V; present when wanted). Q, K
// and V are three equal parts (QAttention has no qkv_hidden_sizes).
// A constant weight (with constant zero points) is packed once at kernel creation and consumed.
#include <climits>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/q8-gemm/q8_gemm.h"
#include "ops/quantization/quant_params.h"
#include "ops/registry.h"
#include "ops/transformer/contrib_attention.h"

namespace tessera {
namespace {

using transformer::ContribAttentionConfig;

// Input positions of QAttention.
enum QAttentionInput : size_t {
  kInput = 0,
  kWeight = 1,
  kBias = 2,
  kInputScale = 3,
  kWeightScale = 4,
  kMaskIndex = 5,
  kInputZeroPoint = 6,
  kWeightZeroPoint = 7,
  kPast = 8,
};

ContribAttentionConfig parse_qattention(const Node& node) {
  ContribAttentionConfig c = transformer::parse_contrib_attention_attributes(node);
  check_model(node.attr_int("past_present_share_buffer", 0) == 0 && node.attr_int("do_rotary", 0) == 0, c.label,
              ": past_present_share_buffer and do_rotary are not supported");
  return c;
}

// The weight's zero points as int32: `count` values (1 or one per column), 0 when the input is absent.
std::vector<int32_t> weight_zero_points(const std::string& label, const Tensor* zp, DType weight_type, int64_t count) {
  std::vector<int32_t> out(static_cast<size_t>(count), 0);
  if (zp == nullptr) return out;
  if (zp->dtype() != weight_type || zp->element_count() != count) {
    fail(ErrorCode::kInvalidArgument, label, ": weight_zero_point ", zp->description(), " must hold ", count, " ",
         dtype_name(weight_type), " value(s), as many as weight_scale");
  }
  for (int64_t i = 0; i < count; ++i) {
    out[static_cast<size_t>(i)] = weight_type == DType::kInt8 ? static_cast<int32_t>(zp->data<int8_t>()[i])
                                                              : static_cast<int32_t>(zp->data<uint8_t>()[i]);
  }
  return out;
}

// The weight packed for the q8 GEMM, with its shape and type.
struct PackedQWeight {
  PackedQ8GemmB packed;
  int64_t in = 0, total = 0;
  DType type = DType::kInt8;
};

// Checks weight [In, 3H] (8-bit, 3H split into 3 * heads equal parts) against weight_scale and packs it.
PackedQWeight pack_weight(const ContribAttentionConfig& c, const Tensor& w, const Tensor& scale, const Tensor* zp) {
  const bool shape_ok = (w.dtype() == DType::kInt8 || w.dtype() == DType::kUint8) && w.rank() == 2 &&
                        w.dim(1) % 3 == 0 && w.dim(1) > 0 && (w.dim(1) / 3) % c.heads == 0;
  if (!shape_ok) {
    fail(ErrorCode::kInvalidArgument, c.label, ": weight ", w.description(),
         " must be int8 or uint8 [input_hidden, 3 * hidden] with hidden a multiple of num_heads ", c.heads);
  }
  if (scale.dtype() != DType::kFloat || (scale.element_count() != 1 && scale.element_count() != w.dim(1))) {
    fail(ErrorCode::kInvalidArgument, c.label, ": weight_scale ", scale.description(), " must be float with 1 or ",
         w.dim(1), " values (per tensor or per column of weight ", w.description(), ")");
  }
  const std::vector<int32_t> zps = weight_zero_points(c.label, zp, w.dtype(), scale.element_count());
  PackedQWeight p;
  p.in = w.dim(0);
  p.total = w.dim(1);
  p.type = w.dtype();
  p.packed = pack_q8_gemm_b(w.dtype() == DType::kInt8, false, p.in, p.total, w.data<uint8_t>(), p.total, zps.data(),
                            scale.element_count());
  return p;
}

// The weight packed at kernel creation when it, weight_scale and weight_zero_point are constants (then consumed).
std::shared_ptr<const PackedQWeight> pack_constant_weight(const ContribAttentionConfig& c, const KernelInfo& info) {
  const Tensor* w = info.constant_input(kWeight);
  const Tensor* scale = info.constant_input(kWeightScale);
  const bool zp_constant = !info.has_input(kWeightZeroPoint) || info.constant_input(kWeightZeroPoint) != nullptr;
  if (w == nullptr || scale == nullptr || !zp_constant) return nullptr;
  auto packed = std::make_shared<PackedQWeight>(pack_weight(c, *w, *scale, info.constant_input(kWeightZeroPoint)));
  info.consume_constant_input(kWeight);
  return packed;
}

void compute_qattention(const ContribAttentionConfig& c, KernelContext& ctx, const PackedQWeight* constant) {
  const Tensor& x = ctx.input(kInput);
  const Tensor& scale = ctx.input(kWeightScale);
  const bool use_constant = constant != nullptr && !ctx.has_input(kWeight);
  const PackedQWeight per_run =
      use_constant ? PackedQWeight()
                   : pack_weight(c, ctx.input(kWeight), scale,
                                 ctx.has_input(kWeightZeroPoint) ? &ctx.input(kWeightZeroPoint) : nullptr);
  const PackedQWeight& w = use_constant ? *constant : per_run;
  if ((x.dtype() != DType::kUint8 && x.dtype() != DType::kInt8) || x.rank() != 3 || x.dim(2) != w.in) {
    fail(ErrorCode::kInvalidArgument, c.label, ": input ", x.description(), " must be uint8 or int8 [batch, sequence, ",
         w.in, "] for weight ", dtype_name(w.type), "[", w.in, ",", w.total, "]");
  }
  if (scale.element_count() != 1 && scale.element_count() != w.total) {
    fail(ErrorCode::kInvalidArgument, c.label, ": weight_scale ", scale.description(), " must hold 1 or ", w.total,
         " values");
  }
  const Tensor& bias = ctx.input(kBias);
  if (bias.dtype() != DType::kFloat || bias.rank() != 1 || bias.dim(0) != w.total) {
    fail(ErrorCode::kInvalidArgument, c.label, ": bias ", bias.description(), " must be float [", w.total, "]");
  }
  const qlinear::QuantParam in = qlinear::read_param(ctx, kInputScale, kInputZeroPoint, x.dtype(), "input");
  // input_scale * weight_scale[j] in float, as ONNX Runtime folds them before its GEMM's scale-and-bias epilogue.
  std::vector<float> scales(static_cast<size_t>(scale.element_count()));
  for (size_t j = 0; j < scales.size(); ++j) scales[j] = in.scale * scale.data<float>()[j];
  const int64_t batch = x.dim(0), seq = x.dim(1), rows = batch * seq;
  Tensor qkv = Tensor::uninitialized(DType::kFloat, {rows, w.total});
  if (rows > 0) {
    Q8GemmOutput out;
    out.c_f32 = qkv.data<float>();
    out.ldc = w.total;
    out.b_scales = scales.data();
    out.b_scale_count = static_cast<int64_t>(scales.size());
    out.bias = bias.data<float>();
    q8_gemm(rows, w.total, w.in, x.data<uint8_t>(), w.in, x.dtype() == DType::kInt8,
            static_cast<int32_t>(in.zero_point), w.packed, out, &ctx.parallelism());
  }
  const int64_t part = w.total / 3;
  transformer::attend_packed_qkv(c, ctx, transformer::split_qkv_columns(qkv, batch, seq, {part, part, part}),
                                 transformer::ContribAttentionInputs{kMaskIndex, SIZE_MAX, kPast});
}

void infer_qattention(InferenceContext& ctx) {
  const TypeInfo* x = ctx.input_type(kInput);
  const TypeInfo* w = ctx.input_type(kWeight);
  std::optional<std::vector<Dim>> shape;
  if (x != nullptr && x->shape && x->shape->size() == 3) {
    Dim hidden;
    if (w != nullptr && w->shape && w->shape->size() == 2) {
      const Dim& total = (*w->shape)[1];
      if (total.is_known() && total.value % 3 == 0) hidden = Dim::known(total.value / 3);
    }
    shape = std::vector<Dim>{(*x->shape)[0], (*x->shape)[1], hidden};
  }
  ctx.set_output_type(0, TypeInfo::tensor(DType::kFloat, shape));
  if (ctx.output_count() > 1) ctx.set_output_type(1, TypeInfo::tensor(DType::kFloat));
}

const RegisterOp kQAttention{{.domain = kMicrosoftDomain,
                              .op_type = "QAttention",
                              .since_version = 1,
                              .last_version = INT_MAX,
                              .factory =
                                  [](const KernelInfo& info) {
                                    const ContribAttentionConfig config = parse_qattention(info.node);
                                    std::shared_ptr<const PackedQWeight> constant = pack_constant_weight(config, info);
                                    return make_kernel([config, constant](KernelContext& ctx) {
                                      compute_qattention(config, ctx, constant.get());
                                    });
                                  },
                              .infer = infer_qattention}};

}  // namespace
}  // namespace tessera
