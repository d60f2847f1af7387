"""ONNX Runtime's integer products without the AVX2 saturation, for tests that take its outputs as the reference.

On an x86 CPU without VNNI (AVX2 only, as AMD Zen 3, or AVX-512 without VNNI), ONNX Runtime's MLAS multiplies
uint8 activations by int8 weights with VPMADDUBSW, which adds two u8 x s8 products into a saturating int16: its
u8s8 results are then not the exact integer sums (ONNX Runtime's quantization guide says so and recommends
reduce_range or u8u8). Tessera's are exact on every CPU, so a test that compares Tessera with ONNX Runtime would
fail on such a CPU for ONNX Runtime's error, not Tessera's.

`exact_integer_model(model)` gives the same model with each int8 weight initializer, its int8 zero point and the
int8 zero points of QuantizeLinear / DequantizeLinear activations moved to uint8 by adding 128: every x - zp and
every saturation bound keep their values, so the float results are the same, and ONNX Runtime runs its u8u8
kernels, whose 16-bit products do not saturate. It is applied only where ONNX Runtime saturates
(`onnxruntime_saturates_u8s8()`); a model with int8 activations of an operator form (QGemm s8s8, say), or whose
shifted tensors feed something else, is returned unchanged.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

# op type -> [(weight input, weight zero-point input, weight scale input or None, activation zero-point input or
# None)] for the ops whose integer products ONNX Runtime computes in MLAS.
_WEIGHT_OPERANDS = {
    "DequantizeLinear": [(0, 2, 1, None)],
    "MatMulInteger": [(1, 3, None, 2)],
    "ConvInteger": [(1, 3, None, 2)],
    "QLinearConv": [(3, 5, 4, 2)],
    "QLinearMatMul": [(3, 5, 4, 2)],
    "DynamicQuantizeMatMul": [(1, 3, 2, None)],
    "MatMulIntegerToFloat": [(1, 5, 3, 4)],
    "QGemm": [(3, 5, 4, 2)],
    "QAttention": [(1, 7, 4, 6)],
    "DynamicQuantizeLSTM": [(1, 9, 8, None), (2, 11, 10, None)],
}


def onnxruntime_saturates_u8s8() -> bool:
    """True on an x86 CPU whose flags have neither avx512_vnni nor avx_vnni (MLAS's u8s8 kernels use VPMADDUBSW
    there); False elsewhere, or where /proc/cpuinfo cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "avx512_vnni" not in flags and "avx_vnni" not in flags


def _input(node: onnx.NodeProto, k: int) -> str:
    return node.input[k] if k < len(node.input) else ""


def exact_integer_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its int8 weights, zero points and QDQ activations shifted to uint8 where ONNX Runtime would
    saturate them (see the module's text); a copy, the argument is not changed."""
    if not onnxruntime_saturates_u8s8():
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    def int8_initializer(name: str) -> bool:
        return name in inits and inits[name].data_type == TensorProto.INT8

    weights: set[str] = set()  # int8 weight initializers
    zero_points: set[str] = set()  # int8 zero points of weights and of QDQ activations
    missing_zero_points = []  # (node, input index, scale input index) of int8 weights without a zero point
    shifted_quantizers = [node for node in graph.node  # QuantizeLinear nodes whose output becomes uint8
                          if node.op_type == "QuantizeLinear" and int8_initializer(_input(node, 2))]
    shifted_activations = {node.output[0] for node in shifted_quantizers}
    zero_points.update(_input(node, 2) for node in shifted_quantizers)
    for node in graph.node:
        for weight, zero, scale, activation_zero in _WEIGHT_OPERANDS.get(node.op_type, []):
            if activation_zero is not None and int8_initializer(_input(node, activation_zero)):
                return model  # an int8 activation of an operator (not QDQ) form: left as it is
            w_name, z_name = _input(node, weight), _input(node, zero)
            if int8_initializer(w_name):
                weights.add(w_name)
            elif node.op_type != "DequantizeLinear" or w_name not in shifted_activations:
                continue  # a uint8 weight, or a DequantizeLinear of a tensor that stays as it is
            if int8_initializer(z_name):
                zero_points.add(z_name)
            elif not z_name and w_name in weights:
                missing_zero_points.append((node, zero, scale))
    positions = {("QuantizeLinear", 2)} | {(op, k) for op, operands in _WEIGHT_OPERANDS.items()
                                           for operand in operands for k in operand[:2]}
    for node in graph.node:  # every use of a shifted name must be one that the shift keeps meaning the same
        for k, name in enumerate(node.input):
            if name in weights | zero_points and (node.op_type, k) not in positions:
                return model
    for name in weights | zero_points:
        values = numpy_helper.to_array(inits[name]).astype(np.int16) + 128
        inits[name].CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
    for node, zero, scale in missing_zero_points:  # an int8 zero point of 0 is a uint8 one of 128
        shape = list(inits[_input(node, scale)].dims) if scale is not None and _input(node, scale) in inits else []
        z_name = f"{_input(node, 0 if node.op_type == 'DequantizeLinear' else 1)}_u8_zero_point_{zero}"
        if z_name not in inits:
            graph.initializer.append(numpy_helper.from_array(np.full(shape, 128, np.uint8), z_name))
            inits[z_name] = graph.initializer[-1]
        while len(node.input) < zero:
            node.input.append("")
        if len(node.input) == zero:
            node.input.append(z_name)
        else:
            node.input[zero] = z_name
    for node in shifted_quantizers:
        for attribute in node.attribute:
            if attribute.name == "output_dtype":
                attribute.i = TensorProto.UINT8
    kept = [info for info in graph.value_info if info.type.tensor_type.elem_type != TensorProto.INT8]
    del graph.value_info[:]
    graph.value_info.extend(kept)
    return model
