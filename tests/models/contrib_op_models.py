#!/usr/bin/env python3
"""Models that carry the com.microsoft contrib ops which ONNX Runtime's transformer optimizer writes into
models (Attention with each mask_index form ONNX Runtime's CPU provider takes, MultiHeadAttention with separate
Q/K/V, SkipSimplifiedLayerNormalization, SimplifiedLayerNormalization, QuickGelu; the quantized DynamicQuantizeMatMul,
MatMulIntegerToFloat, QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearGlobalAveragePool,
QLinearConcat, QLinearAveragePool, QGemm, MatMulNBits, NhwcMaxPool, DynamicQuantizeLSTM, QAttention; RotaryEmbedding, GroupQueryAttention, Trilu, BiasAdd, BiasSoftmax; CDist), built with onnx.helper so that every form and
attribute is exercised.
Each model is run by ONNX Runtime 1.31 on seeded random inputs (NumPy gives the outputs of BiasAdd and
BiasSoftmax, which ONNX Runtime runs only on GPUs); the model, the inputs and ONNX Runtime's outputs go
to DEST/<name>/ as a backend-test folder, which `tessera conformance DEST` then runs: Tessera must give ONNX
Runtime's outputs (rtol 1e-4, atol 1e-5). On a CPU where ONNX Runtime's u8s8 products saturate (x86 without VNNI),
the u8s8 cases' outputs are ONNX Runtime's on the same model with the weights moved to uint8 (ort_exact_integers.py):
the exact integer sums, which Tessera gives on every CPU.

    .venv/bin/python tests/models/contrib_op_models.py DEST
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from ort_exact_integers import exact_integer_model

MS = "com.microsoft"
BATCH, SEQ, HIDDEN, FF = 2, 5, 24, 40
rng = np.random.default_rng(1234)


def weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)


def inputs_info(names: list[str], shape: list) -> list:
    return [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in names]


def skip_simplified() -> onnx.GraphProto:
    """All four outputs (mean is zeros in ONNX Runtime), a bias, and a skip broadcast over the batch."""
    node = helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma", "bias"],
                            ["y", "mean", "inv_std_var", "sum"], domain=MS, epsilon=1e-5)
    graph = helper.make_graph([node], "skip_simplified", inputs_info(["x"], [BATCH, SEQ, HIDDEN]) +
                              inputs_info(["skip"], [SEQ, HIDDEN]),
                              inputs_info(["y", "mean", "inv_std_var", "sum"], None),
                              [weight("gamma", HIDDEN), weight("bias", HIDDEN)])
    return graph


def simplified_decoder_block() -> onnx.GraphProto:
    """RMS norm, an MLP with QuickGelu, and the residual through SkipSimplifiedLayerNormalization: the shape of the
    block the optimizer leaves in a T5/LLaMA-style decoder."""
    nodes = [
        helper.make_node("SimplifiedLayerNormalization", ["x", "norm1"], ["h", "inv"], axis=-1, epsilon=1e-6),
        helper.make_node("MatMul", ["h", "w1"], ["up"]),
        helper.make_node("QuickGelu", ["up"], ["act"], domain=MS, alpha=1.702),
        helper.make_node("QuickGelu", ["up"], ["act_half"], domain=MS, alpha=0.5),
        helper.make_node("Add", ["act", "act_half"], ["mix"]),
        helper.make_node("MatMul", ["mix", "w2"], ["down"]),
        helper.make_node("SkipSimplifiedLayerNormalization", ["down", "x", "norm2"], ["y"], domain=MS, epsilon=1e-6),
    ]
    return helper.make_graph(nodes, "simplified_decoder_block", inputs_info(["x"], [BATCH, SEQ, HIDDEN]),
                             inputs_info(["y", "inv"], None),
                             [weight("norm1", HIDDEN), weight("norm2", HIDDEN), weight("w1", HIDDEN, FF),
                              weight("w2", FF, HIDDEN)])


def contrib_attention(mask_shape: list | None, attention_bias: list | None = None, past: int = 0,
                      **attrs) -> onnx.GraphProto:
    """com.microsoft Attention on a packed [HIDDEN, 3 * HIDDEN] weight with bias; `mask_shape` None, [B], [2B],
    [B, T] or [B, S, T] for mask_index (T = past + S; ONNX Runtime's CPU provider refuses the 4-D form); a past state
    of `past` positions; present output too."""
    heads = attrs.pop("num_heads", 4)
    sizes = attrs.get("qkv_hidden_sizes", [HIDDEN] * 3)
    inputs = ["x", "w", "b", "mask" if mask_shape else "", "past" if past else ""]
    inputs += ["attention_bias"] if attention_bias else []
    outputs = ["y", "present"] if sizes[1] == sizes[2] else ["y"]  # present stacks K and V: one size only
    node = helper.make_node("Attention", inputs, outputs, domain=MS, num_heads=heads, **attrs)
    graph_inputs = inputs_info(["x"], [BATCH, SEQ, HIDDEN])
    if mask_shape:
        graph_inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT32, mask_shape))
    if past:
        graph_inputs += inputs_info(["past"], [2, BATCH, heads, past, HIDDEN // heads])
    if attention_bias:
        graph_inputs += inputs_info(["attention_bias"], attention_bias)
    return helper.make_graph([node], "contrib_attention", graph_inputs, inputs_info(outputs, None),
                             [weight("w", HIDDEN, sum(sizes)), weight("b", sum(sizes))])


def multi_head_attention(kv_len: int, mask_shape: list | None = None, bias: bool = True,
                         attention_bias: list | None = None, **attrs) -> onnx.GraphProto:
    """com.microsoft MultiHeadAttention with separate query [B, S, HIDDEN], key [B, kv_len, HIDDEN] and value
    [B, kv_len, 16]: optional bias [2 HIDDEN + 16], key_padding_mask `mask_shape` ([B] or [B, kv_len]),
    attention_bias; present_key and present_value too."""
    heads = attrs.pop("num_heads", 4)
    inputs = ["q", "k", "v", "bias" if bias else "", "mask" if mask_shape else ""]
    inputs += ["attention_bias"] if attention_bias else []
    node = helper.make_node("MultiHeadAttention", inputs, ["y", "present_key", "present_value"], domain=MS,
                            num_heads=heads, **attrs)
    graph_inputs = inputs_info(["q"], [BATCH, SEQ, HIDDEN]) + inputs_info(["k"], [BATCH, kv_len, HIDDEN])
    graph_inputs += inputs_info(["v"], [BATCH, kv_len, 16])
    if mask_shape:
        graph_inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT32, mask_shape))
    if attention_bias:
        graph_inputs += inputs_info(["attention_bias"], attention_bias)
    return helper.make_graph([node], "multi_head_attention", graph_inputs,
                             inputs_info(["y", "present_key", "present_value"], None),
                             [weight("bias", 2 * HIDDEN + 16)] if bias else [])


def quantized_matmuls(b_dtype, per_column: bool) -> onnx.GraphProto:
    """com.microsoft DynamicQuantizeMatMul on a float input, and MatMulIntegerToFloat on that input quantized in the
    graph (DynamicQuantizeLinear), with int8 or uint8 weights, per-tensor or per-column scales and zero points."""
    k, n = HIDDEN, 24
    low, high = (-128, 128) if b_dtype == np.int8 else (0, 256)
    count = n if per_column else 1
    shape = [n] if per_column else []
    inits = [numpy_helper.from_array(rng.integers(low, high, (k, n)).astype(b_dtype), "B"),
             numpy_helper.from_array((rng.random(count) * 0.02 + 0.001).astype(np.float32).reshape(shape), "b_scale"),
             numpy_helper.from_array(rng.integers(low // 8 + 8, high // 8 - 8, count).astype(b_dtype).reshape(shape),
                                     "b_zero_point"),
             numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "bias")]
    nodes = [helper.make_node("DynamicQuantizeMatMul", ["x", "B", "b_scale", "b_zero_point", "bias"], ["y"], domain=MS),
             helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulIntegerToFloat", ["xq", "B", "xs", "b_scale", "xz", "b_zero_point", "bias"],
                              ["y2"], domain=MS)]
    return helper.make_graph(nodes, "quantized_matmuls", inputs_info(["x"], [BATCH, SEQ, k]),
                             inputs_info(["y", "y2"], None), inits)


def qlinear_binary(op: str, b_shape: list, dtype) -> onnx.GraphProto:
    """com.microsoft QLinearAdd / QLinearMul of two float inputs quantized in the graph, with broadcasting."""
    zero = np.array(3 if dtype == np.int8 else 128, dtype)
    inits = [numpy_helper.from_array(np.array(0.04, np.float32), "sa"), numpy_helper.from_array(zero, "za"),
             numpy_helper.from_array(np.array(0.03, np.float32), "sb"), numpy_helper.from_array(zero, "zb"),
             numpy_helper.from_array(np.array(0.05 if op == "QLinearAdd" else 0.2, np.float32), "sc"),
             numpy_helper.from_array(zero, "zc")]
    nodes = [helper.make_node("QuantizeLinear", ["a", "sa", "za"], ["qa"]),
             helper.make_node("QuantizeLinear", ["b", "sb", "zb"], ["qb"]),
             helper.make_node(op, ["qa", "sa", "za", "qb", "sb", "zb", "sc", "zc"], ["qc"], domain=MS),
             helper.make_node("DequantizeLinear", ["qc", "sc", "zc"], ["c"])]
    return helper.make_graph(nodes, op, [helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [BATCH, SEQ, HIDDEN]),
                                         helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, b_shape)],
                             inputs_info(["c"], None), inits)


def rotary(offset: bool, interleaved: int, num_heads: bool) -> onnx.GraphProto:
    """com.microsoft RotaryEmbedding on [B, S, hidden] with (batch, sequence) position ids or one offset, half or
    interleaved pairs, with or without num_heads (then the head size is twice the caches' last dim)."""
    heads, head = 4, HIDDEN // 4
    positions = 32
    angles = np.outer(np.arange(positions), 1.0 / 10000 ** (np.arange(0, head, 2) / head)).astype(np.float32)
    ids = np.array([3], np.int64) if offset else rng.integers(0, positions, (BATCH, SEQ)).astype(np.int64)
    inits = [numpy_helper.from_array(ids, "position_ids"), numpy_helper.from_array(np.cos(angles), "cos_cache"),
             numpy_helper.from_array(np.sin(angles), "sin_cache")]
    attrs = {"interleaved": interleaved}
    if num_heads:
        attrs["num_heads"] = heads
    node = helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"], domain=MS,
                            **attrs)
    return helper.make_graph([node], "rotary", inputs_info(["x"], [BATCH, SEQ, HIDDEN]), inputs_info(["y"], None),
                             inits)


def quantize_in_graph(name: str, scale: float, zero: int, dtype) -> tuple[list, list]:
    """Nodes and initializers that quantize float input `name` into `name`_q with (scale, zero)."""
    inits = [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_scale"),
             numpy_helper.from_array(np.array(zero, dtype), f"{name}_zero")]
    return [helper.make_node("QuantizeLinear", [name, f"{name}_scale", f"{name}_zero"], [f"{name}_q"])], inits


def qlinear_lookup(op: str, dtype, **attrs) -> onnx.GraphProto:
    """com.microsoft QLinearSigmoid / QLinearLeakyRelu between QuantizeLinear and DequantizeLinear."""
    zero = 3 if dtype == np.int8 else 120
    nodes, inits = quantize_in_graph("x", 0.05, zero, dtype)
    inits += [numpy_helper.from_array(np.array(0.004 if op == "QLinearSigmoid" else 0.04, np.float32), "y_scale"),
              numpy_helper.from_array(np.array(-128 if op == "QLinearSigmoid" and dtype == np.int8 else
                                               (0 if op == "QLinearSigmoid" else zero), dtype), "y_zero")]
    nodes += [helper.make_node(op, ["x_q", "x_scale", "x_zero", "y_scale", "y_zero"], ["y_q"], domain=MS, **attrs),
              helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"])]
    return helper.make_graph(nodes, op, inputs_info(["x"], [BATCH, SEQ, HIDDEN]), inputs_info(["y"], None), inits)


def qlinear_global_average_pool(dtype, channels_last: int) -> onnx.GraphProto:
    """com.microsoft QLinearGlobalAveragePool in NCHW or NHWC."""
    shape = [BATCH, 7, 6, 10] if channels_last else [BATCH, 10, 7, 6]
    nodes, inits = quantize_in_graph("x", 0.03, 5 if dtype == np.int8 else 131, dtype)
    inits += [numpy_helper.from_array(np.array(0.011, np.float32), "y_scale"),
              numpy_helper.from_array(np.array(-2 if dtype == np.int8 else 126, dtype), "y_zero")]
    nodes += [helper.make_node("QLinearGlobalAveragePool", ["x_q", "x_scale", "x_zero", "y_scale", "y_zero"], ["y_q"],
                               domain=MS, channels_last=channels_last),
              helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"])]
    return helper.make_graph(nodes, "qlinear_gap", inputs_info(["x"], shape), inputs_info(["y"], None), inits)


def qlinear_concat(dtype) -> onnx.GraphProto:
    """com.microsoft QLinearConcat of three inputs, one with the output's parameters (copied), two requantized."""
    params = [(0.05, 4), (0.02, -3), (0.05, 4)] if dtype == np.int8 else [(0.05, 130), (0.02, 100), (0.05, 130)]
    nodes, inits, triples = [], [], []
    for i, (scale, zero) in enumerate(params):
        n, ini = quantize_in_graph(f"x{i}", scale, zero, dtype)
        nodes += n
        inits += ini
        triples += [f"x{i}_q", f"x{i}_scale", f"x{i}_zero"]
    inits += [numpy_helper.from_array(np.array(0.05, np.float32), "y_scale"),
              numpy_helper.from_array(np.array(params[0][1], dtype), "y_zero")]
    nodes += [helper.make_node("QLinearConcat", ["y_scale", "y_zero"] + triples, ["y_q"], domain=MS, axis=-2),
              helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"])]
    graph_inputs = (inputs_info(["x0"], [BATCH, 3, HIDDEN]) + inputs_info(["x1"], [BATCH, 5, HIDDEN]) +
                    inputs_info(["x2"], [BATCH, 2, HIDDEN]))
    return helper.make_graph(nodes, "qlinear_concat", graph_inputs, inputs_info(["y"], None), inits)


def qgemm(a_dtype, b_dtype, quantized_output: bool, per_column: bool, trans_a: int, trans_b: int) -> onnx.GraphProto:
    """com.microsoft QGemm with int8/uint8 A and B, an int32 C, per-tensor or per-column B, float or 8-bit Y."""
    m, k, n = 6, HIDDEN, 10
    b_low, b_high = (-128, 128) if b_dtype == np.int8 else (0, 256)
    count = n if per_column else 1
    b = rng.integers(b_low, b_high, (n, k) if trans_b else (k, n)).astype(b_dtype)
    inits = [numpy_helper.from_array(b, "B"),
             numpy_helper.from_array((rng.random(count) * 0.01 + 0.002).astype(np.float32).reshape([count] if per_column
                                                                                                   else []), "b_scale"),
             numpy_helper.from_array(rng.integers(b_low // 4, b_high // 4, count).astype(b_dtype).reshape(
                 [count] if per_column else []), "b_zero"),
             numpy_helper.from_array(rng.integers(-500, 500, n).astype(np.int32), "C")]
    nodes, q_inits = quantize_in_graph("a", 0.04, -7 if a_dtype == np.int8 else 125, a_dtype)
    inits += q_inits
    inputs = ["a_q", "a_scale", "a_zero", "B", "b_scale", "b_zero", "C"]
    if quantized_output:
        inits += [numpy_helper.from_array(np.array(0.6, np.float32), "y_scale"),
                  numpy_helper.from_array(np.array(5 if a_dtype == np.int8 else 128, a_dtype), "y_zero")]
        inputs += ["y_scale", "y_zero"]
    nodes.append(helper.make_node("QGemm", inputs, ["y_q" if quantized_output else "y"], domain=MS, transA=trans_a,
                                  transB=trans_b, alpha=0.75))
    if quantized_output:
        nodes.append(helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"]))
    return helper.make_graph(nodes, "qgemm", inputs_info(["a"], [k, m] if trans_a else [m, k]),
                             inputs_info(["y"], None), inits)


def microsoft_trilu(upper: int) -> onnx.GraphProto:
    """com.microsoft Trilu with a k input."""
    node = helper.make_node("Trilu", ["x", "k"], ["y"], domain=MS, upper=upper)
    return helper.make_graph([node], "trilu", inputs_info(["x"], [BATCH, 5, 7]), inputs_info(["y"], None),
                             [numpy_helper.from_array(np.array(-1 if upper else 2, np.int64), "k")])


def cdist(metric: str, constant_b: bool) -> onnx.GraphProto:
    """com.microsoft CDist of a [7, 19] input against [40, 19] rows: another input, or an initializer (the training
    rows of a nearest-neighbours model)."""
    node = helper.make_node("CDist", ["a", "b"], ["y"], domain=MS, metric=metric)
    inputs = inputs_info(["a"], [7, 19]) + ([] if constant_b else inputs_info(["b"], [40, 19]))
    return helper.make_graph([node], "cdist", inputs, inputs_info(["y"], None),
                             [weight("b", 40, 19)] if constant_b else [])


def bias_add() -> tuple[onnx.GraphProto, object]:
    """com.microsoft BiasAdd (ONNX Runtime runs it only on GPUs: the reference is NumPy's)."""
    bias = weight("bias", HIDDEN)
    node = helper.make_node("BiasAdd", ["x", "bias", "skip"], ["y"], domain=MS)
    graph = helper.make_graph([node], "bias_add", inputs_info(["x", "skip"], [BATCH, SEQ, HIDDEN]),
                              inputs_info(["y"], None), [bias])
    return graph, lambda f: [(f["x"] + numpy_helper.to_array(bias)) + f["skip"]]


def bias_softmax(inner: int) -> tuple[onnx.GraphProto, object]:
    """com.microsoft BiasSoftmax over the last two axes of [2, 3, 4, 5] scores, the bias repeating over the inner
    batch dim ([2, 1, 4, 5]) or the outer one ([3, 4, 5]); the reference is NumPy's."""
    bias_shape = [2, 1, 4, 5] if inner else [3, 4, 5]
    node = helper.make_node("BiasSoftmax", ["x", "b"], ["y"], domain=MS, axis=2, is_inner_broadcast=inner)
    graph = helper.make_graph([node], "bias_softmax", inputs_info(["x"], [2, 3, 4, 5]) + inputs_info(["b"], bias_shape),
                              inputs_info(["y"], None))

    def reference(f):
        z = f["x"] + f["b"]  # NumPy broadcasting matches both layouts here
        z = z - z.max(axis=(2, 3), keepdims=True)
        e = np.exp(z)
        return [(e / e.sum(axis=(2, 3), keepdims=True)).astype(np.float32)]
    return graph, reference


def matmul_nbits(bits: int, zero_points: str, bias: bool, k: int = 40, block: int = 16) -> onnx.GraphProto:
    """com.microsoft MatMulNBits: random `bits`-wide weights [N, K] in blocks of `block` along K (K not a multiple
    of it: the last block is padded), per-block scales, zero points absent, packed uint8 or float."""
    n, blocks = 12, (k + block - 1) // block
    per_byte = 8 // bits
    values = rng.integers(0, 1 << bits, (n, blocks * block))
    packed = np.zeros((n, blocks * block // per_byte), np.uint8)
    for i in range(per_byte):
        packed |= (values[:, i::per_byte] << (i * bits)).astype(np.uint8)
    inits = [numpy_helper.from_array(packed.reshape(n, blocks, block * bits // 8), "B"),
             numpy_helper.from_array((rng.random(n * blocks) * 0.1 + 0.01).astype(np.float32), "scales")]
    inputs = ["a", "B", "scales"]
    if zero_points == "uint8":
        zp = rng.integers(0, 1 << bits, (n, (blocks * bits + 7) // 8 * per_byte))
        zp_packed = np.zeros((n, zp.shape[1] // per_byte), np.uint8)
        for i in range(per_byte):
            zp_packed |= (zp[:, i::per_byte] << (i * bits)).astype(np.uint8)
        inits.append(numpy_helper.from_array(zp_packed.reshape(-1), "zero_points"))
        inputs.append("zero_points")
    elif zero_points == "float":
        inits.append(numpy_helper.from_array((rng.random(n * blocks) * (1 << bits)).astype(np.float32), "zero_points"))
        inputs.append("zero_points")
    else:
        inputs.append("")
    if bias:
        inits.append(weight("bias", n))
        inputs += ["", "bias"]
    node = helper.make_node("MatMulNBits", inputs, ["y"], domain=MS, K=k, N=n, bits=bits, block_size=block)
    return helper.make_graph([node], "matmul_nbits", inputs_info(["a"], [BATCH, SEQ, k]), inputs_info(["y"], None),
                             inits)


def nhwc_max_pool(dtype, **attrs) -> onnx.GraphProto:
    """com.microsoft NhwcMaxPool on [N, H, W, C] int8/uint8 quantized in the graph."""
    nodes, inits = quantize_in_graph("x", 0.05, 2 if dtype == np.int8 else 128, dtype)
    nodes += [helper.make_node("NhwcMaxPool", ["x_q"], ["y_q"], domain=MS, **attrs),
              helper.make_node("DequantizeLinear", ["y_q", "x_scale", "x_zero"], ["y"])]
    return helper.make_graph(nodes, "nhwc_max_pool", inputs_info(["x"], [BATCH, 9, 11, 6]), inputs_info(["y"], None),
                             inits)


def qlinear_average_pool(dtype, channels_last: int, **attrs) -> onnx.GraphProto:
    """com.microsoft QLinearAveragePool in NCHW or NHWC, quantized in the graph."""
    shape = [BATCH, 9, 11, 6] if channels_last else [BATCH, 6, 9, 11]
    nodes, inits = quantize_in_graph("x", 0.05, -4 if dtype == np.int8 else 125, dtype)
    inits += [numpy_helper.from_array(np.array(0.02, np.float32), "y_scale"),
              numpy_helper.from_array(np.array(3 if dtype == np.int8 else 128, dtype), "y_zero")]
    nodes += [helper.make_node("QLinearAveragePool", ["x_q", "x_scale", "x_zero", "y_scale", "y_zero"], ["y_q"],
                               domain=MS, channels_last=channels_last, **attrs),
              helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"])]
    return helper.make_graph(nodes, "qlinear_average_pool", inputs_info(["x"], shape), inputs_info(["y"], None), inits)


def group_query_attention(seq: int, past: int, seqlens: list, total: int, packed: bool = False, rotary: bool = False,
                          bias: bool = False, **attrs) -> onnx.GraphProto:
    """com.microsoft GroupQueryAttention (4 query heads over 2 KV heads of 8, or 16 with rotary): a first prompt (past 0, seq == total),
    a decoding step over a past cache, ragged entries (different seqlens_k) in a longer cache buffer; packed QKV,
    rotary embedding from cos/sin caches, attention_bias, local_window_size and softcap."""
    heads, kv_heads, size = 4, 2, 16 if rotary else 8  # ONNX Runtime rotates only head sizes that are multiples of 16
    inits = [numpy_helper.from_array(np.array(seqlens, np.int32), "seqlens_k"),
             numpy_helper.from_array(np.array(total, np.int32), "total_sequence_length")]
    graph_inputs = inputs_info(["query"], [BATCH, seq, (heads + 2 * kv_heads) * size if packed else heads * size])
    names = ["query", "", ""] if packed else ["query", "key", "value"]
    if not packed:
        graph_inputs += inputs_info(["key", "value"], [BATCH, seq, kv_heads * size])
    if past:
        graph_inputs += inputs_info(["past_key", "past_value"], [BATCH, kv_heads, past, size])
        names += ["past_key", "past_value"]
    else:
        names += ["", ""]
    names += ["seqlens_k", "total_sequence_length"]
    if rotary:
        angles = np.outer(np.arange(32), 1.0 / 10000 ** (np.arange(0, size, 2) / size)).astype(np.float32)
        inits += [numpy_helper.from_array(np.cos(angles), "cos_cache"), numpy_helper.from_array(np.sin(angles), "sin_cache")]
        names += ["cos_cache", "sin_cache"]
        attrs["do_rotary"] = 1
    if bias:
        names += [""] * (10 - len(names)) + ["attention_bias"]
        graph_inputs += inputs_info(["attention_bias"], [1, heads, seq, total])
    node = helper.make_node("GroupQueryAttention", names, ["y", "present_key", "present_value"], domain=MS,
                            num_heads=heads, kv_num_heads=kv_heads, **attrs)
    return helper.make_graph([node], "group_query_attention", graph_inputs,
                             inputs_info(["y", "present_key", "present_value"], None), inits)


def dynamic_quantize_lstm(dtype, per_column: bool, direction: str) -> onnx.GraphProto:
    """com.microsoft DynamicQuantizeLSTM with 8-bit W [dirs, input, 4 hidden] and R [dirs, hidden, 4 hidden], per
    direction or per column scales and zero points, a bias, initial states."""
    dirs, inp, hidden = (2 if direction == "bidirectional" else 1), 6, 5
    low, high = (-128, 128) if dtype == np.int8 else (0, 256)
    count = 4 * hidden if per_column else 1
    inits = []
    for name, rows in (("W", inp), ("R", hidden)):
        inits.append(numpy_helper.from_array(rng.integers(low, high, (dirs, rows, 4 * hidden)).astype(dtype), name))
        inits.append(numpy_helper.from_array((rng.random((dirs, count)) * 0.004 + 0.002).astype(np.float32).reshape(
            [dirs, count] if per_column else [dirs]), f"{name}_scale"))
        # ONNX Runtime takes per-column int8 weights only with zero points 0.
        zero = np.zeros((dirs, count)) if per_column else rng.integers(low // 4, high // 4, (dirs, count))
        inits.append(numpy_helper.from_array(zero.astype(dtype).reshape([dirs, count] if per_column else [dirs]),
                                             f"{name}_zero_point"))
    inits.append(weight("B", dirs, 8 * hidden))
    node = helper.make_node("DynamicQuantizeLSTM", ["x", "W", "R", "B", "", "initial_h", "initial_c", "",
                                                    "W_scale", "W_zero_point", "R_scale", "R_zero_point"],
                            ["y", "y_h", "y_c"], domain=MS, hidden_size=hidden, direction=direction)
    graph_inputs = (inputs_info(["x"], [4, BATCH, inp]) +
                    inputs_info(["initial_h", "initial_c"], [dirs, BATCH, hidden]))
    return helper.make_graph([node], "dynamic_quantize_lstm", graph_inputs, inputs_info(["y", "y_h", "y_c"], None),
                             inits)


def qattention(w_dtype, per_column: bool, mask_shape: list | None, past: int = 0, **attrs) -> onnx.GraphProto:
    """com.microsoft QAttention on the float input quantized in the graph (DynamicQuantizeLinear, as
    quantize_dynamic writes it): int8 or uint8 weight [HIDDEN, 3 HIDDEN] with per-tensor or per-column scales and
    zero points (uint8: nonzero ones), a bias, mask_index `mask_shape`, a past state of `past` positions; present
    output too."""
    heads = attrs.pop("num_heads", 4)
    total = 3 * HIDDEN
    low, high = (-128, 128) if w_dtype == np.int8 else (0, 256)
    count = total if per_column else 1
    shape = [total] if per_column else []
    zero = np.zeros(count) if w_dtype == np.int8 else rng.integers(100, 156, count)
    inits = [numpy_helper.from_array(rng.integers(low, high, (HIDDEN, total)).astype(w_dtype), "w"),
             weight("b", total),
             numpy_helper.from_array((rng.random(count) * 0.004 + 0.001).astype(np.float32).reshape(shape), "w_scale"),
             numpy_helper.from_array(zero.astype(w_dtype).reshape(shape), "w_zero_point")]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zero_point"]),
             helper.make_node("QAttention", ["x_q", "w", "b", "x_scale", "w_scale", "mask" if mask_shape else "",
                                             "x_zero_point", "w_zero_point", "past" if past else ""],
                              ["y", "present"], domain=MS, num_heads=heads, **attrs)]
    graph_inputs = inputs_info(["x"], [BATCH, SEQ, HIDDEN])
    if mask_shape:
        graph_inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT32, mask_shape))
    if past:
        graph_inputs += inputs_info(["past"], [2, BATCH, heads, past, HIDDEN // heads])
    return helper.make_graph(nodes, "qattention", graph_inputs, inputs_info(["y", "present"], None), inits)


def mask_feed(shape: list) -> np.ndarray:
    """mask_index data: lengths (1-D, with starts in the second half for [2B]) or 0/1 with some zeros."""
    if len(shape) == 1:
        ends = np.array([SEQ, SEQ - 2] * BATCH, np.int32)[:BATCH]
        return ends if shape[0] == BATCH else np.concatenate([ends, np.array([0, 1] * BATCH, np.int32)[:BATCH]])
    mask = (rng.random(shape) > 0.3).astype(np.int32)
    mask[..., 0] = 1  # every query attends at least one key
    return mask


def write_data_set(data_dir: str, feeds: dict[str, np.ndarray], outputs: list[np.ndarray]) -> None:
    """One backend-test data set: feeds (in the model's input order) and the expected outputs, checked finite."""
    os.makedirs(data_dir, exist_ok=True)
    for k, (input_name, value) in enumerate(feeds.items()):
        with open(os.path.join(data_dir, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(value, input_name).SerializeToString())
    for k, value in enumerate(outputs):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise SystemExit(f"{data_dir}: ONNX Runtime output {k} is not finite")
        with open(os.path.join(data_dir, f"output_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(value).SerializeToString())


def write_case(dest: str, name: str, graph: onnx.GraphProto, reference=None, atol: float = 1e-5) -> None:
    """Writes the case; the expected outputs are ONNX Runtime's, or reference(feeds)'s for an op that ONNX Runtime
    runs only on GPUs; `atol` loosens the comparison where only ties may round differently."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              ir_version=8)
    out_dir = os.path.join(dest, name)
    os.makedirs(out_dir)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    feeds = {}
    for info in graph.input:
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in info.type.tensor_type.shape.dim]
        if info.type.tensor_type.elem_type == TensorProto.INT32:
            feeds[info.name] = mask_feed(shape)
        else:
            feeds[info.name] = (rng.standard_normal(shape) * 2).astype(np.float32)
    ops = sorted({f"{n.domain or 'ai.onnx'}.{n.op_type}" for n in graph.node})
    if reference is None:
        session = onnxruntime.InferenceSession(exact_integer_model(model).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        outputs, source = session.run(None, feeds), "ONNX Runtime's"
    else:
        outputs, source = reference(feeds), "NumPy's"
    write_data_set(os.path.join(out_dir, "test_data_set_0"), feeds, outputs)
    with open(os.path.join(out_dir, "data.json"), "w") as f:
        json.dump({"rtol": 1e-4, "atol": atol}, f)
    print(f"{name}: ops {ops}; {source} outputs written")


def main() -> int:
    dest = sys.argv[1]
    shutil.rmtree(dest, ignore_errors=True)
    write_case(dest, "skip_simplified_layer_norm", skip_simplified())
    write_case(dest, "simplified_decoder_block", simplified_decoder_block())
    write_case(dest, "attention_no_mask", contrib_attention(None))
    write_case(dest, "attention_mask_1d_end", contrib_attention([BATCH]))
    write_case(dest, "attention_mask_1d_end_start", contrib_attention([2 * BATCH]))
    write_case(dest, "attention_mask_2d", contrib_attention([BATCH, SEQ], mask_filter_value=-5000.0))
    write_case(dest, "attention_mask_3d_scale", contrib_attention([BATCH, SEQ, SEQ], scale=0.3))
    write_case(dest, "attention_unidirectional_2d", contrib_attention([BATCH, SEQ], unidirectional=1, num_heads=2))
    write_case(dest, "attention_bias_per_head", contrib_attention([BATCH, SEQ], attention_bias=[1, 4, SEQ, SEQ]))
    write_case(dest, "attention_qkv_hidden_sizes", contrib_attention(None, qkv_hidden_sizes=[16, 16, 24], num_heads=2))
    write_case(dest, "mha_cross_no_mask", multi_head_attention(7))
    write_case(dest, "mha_key_padding_2d", multi_head_attention(7, [BATCH, 7], scale=0.2))
    write_case(dest, "mha_key_lengths_no_bias", multi_head_attention(6, [BATCH], bias=False, num_heads=2))
    write_case(dest, "mha_self_unidirectional_bias", multi_head_attention(SEQ, [BATCH, SEQ], unidirectional=1,
                                                                           attention_bias=[1, 4, SEQ, SEQ]))
    write_case(dest, "dynamic_quantize_matmul_int8_per_column", quantized_matmuls(np.int8, True))
    write_case(dest, "dynamic_quantize_matmul_uint8_per_tensor", quantized_matmuls(np.uint8, False))
    write_case(dest, "qlinear_add_int8", qlinear_binary("QLinearAdd", [BATCH, SEQ, HIDDEN], np.int8))
    write_case(dest, "qlinear_add_uint8_broadcast", qlinear_binary("QLinearAdd", [HIDDEN], np.uint8))
    write_case(dest, "qlinear_mul_int8_broadcast", qlinear_binary("QLinearMul", [SEQ, 1], np.int8))
    write_case(dest, "rotary_embedding_positions", rotary(False, 0, True))
    write_case(dest, "rotary_embedding_offset_interleaved", rotary(True, 1, True))
    write_case(dest, "rotary_embedding_no_num_heads", rotary(False, 0, False))
    write_case(dest, "qlinear_sigmoid_uint8", qlinear_lookup("QLinearSigmoid", np.uint8))
    write_case(dest, "qlinear_sigmoid_int8", qlinear_lookup("QLinearSigmoid", np.int8))
    write_case(dest, "qlinear_leaky_relu_int8", qlinear_lookup("QLinearLeakyRelu", np.int8, alpha=0.1))
    write_case(dest, "qlinear_leaky_relu_uint8_default_alpha", qlinear_lookup("QLinearLeakyRelu", np.uint8))
    write_case(dest, "qlinear_global_average_pool_uint8_nchw", qlinear_global_average_pool(np.uint8, 0))
    write_case(dest, "qlinear_global_average_pool_int8_nhwc", qlinear_global_average_pool(np.int8, 1))
    write_case(dest, "qlinear_concat_uint8", qlinear_concat(np.uint8))
    write_case(dest, "qlinear_concat_int8", qlinear_concat(np.int8))
    write_case(dest, "qgemm_u8s8_float_per_column", qgemm(np.uint8, np.int8, False, True, 0, 0))
    write_case(dest, "qgemm_s8s8_quantized_trans_b", qgemm(np.int8, np.int8, True, False, 0, 1))
    write_case(dest, "qgemm_u8u8_quantized_per_column_trans_a", qgemm(np.uint8, np.uint8, True, True, 1, 0))
    write_case(dest, "cdist_sqeuclidean", cdist("sqeuclidean", False))
    write_case(dest, "cdist_euclidean_constant_b", cdist("euclidean", True))
    write_case(dest, "microsoft_trilu_upper", microsoft_trilu(1))
    write_case(dest, "microsoft_trilu_lower", microsoft_trilu(0))
    write_case(dest, "matmul_4bits_packed_zero_points_bias", matmul_nbits(4, "uint8", True))
    write_case(dest, "matmul_4bits_default_zero_points", matmul_nbits(4, "none", False, k=64, block=32))
    write_case(dest, "matmul_8bits_uint8_zero_points", matmul_nbits(8, "uint8", True))
    write_case(dest, "matmul_4bits_float_zero_points", matmul_nbits(4, "float", False))
    write_case(dest, "matmul_2bits_packed_zero_points", matmul_nbits(2, "uint8", False))
    write_case(dest, "nhwc_max_pool_uint8_3x3_s2_pads", nhwc_max_pool(np.uint8, kernel_shape=[3, 3], strides=[2, 2],
                                                                    pads=[1, 1, 1, 1]))
    write_case(dest, "nhwc_max_pool_int8_ceil_dilated", nhwc_max_pool(np.int8, kernel_shape=[2, 3], ceil_mode=1,
                                                                     dilations=[2, 1], strides=[2, 2]))
    write_case(dest, "qlinear_average_pool_uint8_pads", qlinear_average_pool(np.uint8, 0, kernel_shape=[3, 3],
                                                                             pads=[1, 1, 1, 1], strides=[2, 2]))
    # Tessera rounds float(sum) * (x_scale / y_scale) / count; in these two forms ONNX Runtime's float order (not
    # found) gives some ties the other way: compared within one output step (y_scale 0.02).
    write_case(dest, "qlinear_average_pool_int8_nhwc", qlinear_average_pool(np.int8, 1, kernel_shape=[2, 3],
                                                                            pads=[1, 1, 1, 1], strides=[2, 2]),
               atol=0.0201)
    write_case(dest, "qlinear_average_pool_uint8_include_pad", qlinear_average_pool(np.uint8, 0, kernel_shape=[3, 2],
                                                                                    pads=[1, 1, 1, 1],
                                                                                    count_include_pad=1), atol=0.0201)
    write_case(dest, "qlinear_average_pool_uint8_ceil", qlinear_average_pool(np.uint8, 0, kernel_shape=[3, 3],
                                                                             strides=[2, 2], ceil_mode=1))
    write_case(dest, "gqa_first_prompt", group_query_attention(SEQ, 0, [SEQ - 1] * BATCH, SEQ))
    write_case(dest, "gqa_decode_step", group_query_attention(1, SEQ, [SEQ] * BATCH, SEQ + 1))
    write_case(dest, "gqa_ragged_entries_in_a_longer_buffer", group_query_attention(1, 8, [3, 6], 7))
    write_case(dest, "gqa_packed_rotary_prompt", group_query_attention(SEQ, 0, [SEQ - 1] * BATCH, SEQ, packed=True,
                                                                       rotary=True))
    write_case(dest, "gqa_rotary_interleaved_decode", group_query_attention(1, 4, [4, 4], 5, rotary=True,
                                                                            rotary_interleaved=1))
    write_case(dest, "gqa_local_window_softcap", group_query_attention(SEQ, 0, [SEQ - 1] * BATCH, SEQ,
                                                                       local_window_size=2, softcap=3.0, scale=0.4))
    write_case(dest, "gqa_attention_bias", group_query_attention(1, 3, [3, 3], 4, bias=True))
    # ONNX Runtime quantizes X and h to uint8 at every step; Tessera runs the float LSTM on the dequantized weights:
    # compared within that quantization noise.
    write_case(dest, "dynamic_quantize_lstm_int8_bidirectional", dynamic_quantize_lstm(np.int8, False, "bidirectional"),
               atol=0.03)
    write_case(dest, "dynamic_quantize_lstm_int8_per_column", dynamic_quantize_lstm(np.int8, True, "forward"),
               atol=0.03)
    # QAttention: the same integer products and float scale * sum + bias as ONNX Runtime, then float attention.
    write_case(dest, "qattention_u8s8_per_tensor", qattention(np.int8, False, None))
    write_case(dest, "qattention_u8u8_per_column_mask_1d", qattention(np.uint8, True, [BATCH]))
    write_case(dest, "qattention_u8s8_per_column_mask_2d_unidirectional", qattention(np.int8, True, [BATCH, SEQ],
                                                                                     unidirectional=1, num_heads=2))
    write_case(dest, "qattention_u8u8_mask_3d_scale", qattention(np.uint8, False, [BATCH, SEQ, SEQ], scale=0.2,
                                                                 mask_filter_value=-5000.0))
    write_case(dest, "qattention_u8s8_past_unidirectional", qattention(np.int8, True, [BATCH, 2 + SEQ], past=2,
                                                                       unidirectional=1))
    write_case(dest, "bias_add", *bias_add())
    write_case(dest, "bias_softmax_inner_broadcast", *bias_softmax(1))
    write_case(dest, "bias_softmax_outer_broadcast", *bias_softmax(0))
    # Added last, so that the cases above keep their random data.
    write_case(dest, "attention_past_unidirectional_2d", contrib_attention([BATCH, 3 + SEQ], past=3, unidirectional=1))
    write_case(dest, "attention_past_mask_1d", contrib_attention([BATCH], past=2, num_heads=2))
    write_case(dest, "attention_past_mask_3d", contrib_attention([BATCH, SEQ, 4 + SEQ], past=4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
