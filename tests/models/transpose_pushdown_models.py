#!/usr/bin/env python3
"""transpose_pushdown on the NHWC pattern a Keras-style conv net exports with (tf2onnx without its own optimizer,
PyTorch channels-last code): an NHWC input, every Conv wrapped in Transpose(0,3,1,2) ... Transpose(0,2,3,1), the
bias adds, scale-shifts, activations and a two-branch sum done in NHWC, a ReduceMean over H and W at the end.
Built with onnx.helper (tf2onnx is not installed here), random weights, fixed seed.

Checks: `tessera info --opt-level all` has fewer Transposes than with `--disable-pass transpose_pushdown` (the
pairs around the elementwise ops cancel; the input's and the one before ReduceMean stay); `tessera compare`
(disabled vs all) finds nothing beyond its tolerance, largest relative error below 1e-5, and at basic (with
conv_mul_add_folding off on both sides) every value is the same with and without the pass; the basic-level output of
`tessera optimize` passes onnx.checker and gives ONNX Runtime the outputs it gives for the original (a second or two).

    .venv/bin/python tests/models/transpose_pushdown_models.py TESSERA_CLI WORK_DIR
"""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TO_NCHW = [0, 3, 1, 2]
TO_NHWC = [0, 2, 3, 1]


def build_model(path):
    rng = np.random.default_rng(0)
    inits, nodes = [], []

    def const(name, shape, scale=0.3):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def transpose(x, y, perm):
        nodes.append(helper.make_node("Transpose", [x], [y], perm=perm, name=y))

    def conv_nhwc(x, y, cin, cout):  # tf2onnx's Conv2D: to NCHW, Conv, back to NHWC
        transpose(x, y + "_nchw", TO_NCHW)
        nodes.append(helper.make_node("Conv", [y + "_nchw", const(y + "_w", (cout, cin, 3, 3))], [y + "_conv"],
                                      pads=[1, 1, 1, 1], name=y + "_conv"))
        transpose(y + "_conv", y, TO_NHWC)

    def op(op_type, inputs, y, **attrs):
        nodes.append(helper.make_node(op_type, inputs, [y], name=y, **attrs))

    conv_nhwc("x", "c1", 3, 8)
    op("Add", ["c1", const("b1", (8,))], "a1")  # BiasAdd
    op("Relu", ["a1"], "r1")
    conv_nhwc("r1", "ca", 8, 8)
    op("Mul", ["ca", const("sa", (8,))], "ma")  # scale-shift (a folded BatchNormalization)
    op("Add", ["ma", const("ba", (8,))], "aa")
    op("LeakyRelu", ["aa"], "la", alpha=0.2)
    conv_nhwc("la", "cb", 8, 8)  # la is read twice: by this Conv's Transpose and by the residual Add
    op("Add", ["la", "cb"], "sum")  # residual: both operands NHWC
    op("Mul", ["sum", const("s2", (16, 16, 8), 1.0)], "m2")  # a rank-3 [H, W, C] constant
    op("Clip", ["m2", "lo", "hi"], "clip")  # ReLU6
    inits.append(numpy_helper.from_array(np.array(0, np.float32), "lo"))
    inits.append(numpy_helper.from_array(np.array(6, np.float32), "hi"))
    op("ReduceMean", ["clip"], "pool", axes=[1, 2], keepdims=0)  # GlobalAveragePooling2D
    nodes.append(helper.make_node("MatMul", ["pool", const("dense", (8, 10))], ["logits"], name="logits"))
    op("Softmax", ["logits"], "y", axis=-1)
    graph = helper.make_graph(nodes, "keras_style_nhwc",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 16, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx-style")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def transposes(cli, model, *extra):
    info = subprocess.run([cli, "info", model, "--opt-level", "all", *extra], check=True, capture_output=True,
                          text=True).stdout
    optimized = info[info.index("ops after optimization"):]
    found = re.search(r"^\s+Transpose\s+(\d+)$", optimized, re.M)
    return int(found.group(1)) if found else 0


def main() -> int:
    cli, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "keras_style_nhwc.onnx")
    build_model(model)
    failures = []
    exported = sum(1 for n in onnx.load(model).graph.node if n.op_type == "Transpose")
    pushed = transposes(cli, model)
    without = transposes(cli, model, "--disable-pass", "transpose_pushdown")
    print(f"Transposes: exported {exported}, all without transpose_pushdown {without}, all {pushed}")
    if not (pushed < without and pushed <= 2):  # the input's and the one before ReduceMean stay
        failures.append(f"transpose_pushdown left {pushed} Transposes of {without}, expected 2")
    compare = subprocess.run([cli, "compare", model], capture_output=True, text=True)
    largest = re.search(r"largest relative error: (\S+)", compare.stdout)
    error = float(largest.group(1)) if largest else float("inf")
    print(f"tessera compare disabled vs all: exit {compare.returncode}, largest relative error {error:.2e}")
    if compare.returncode != 0 or not error < 1e-5:
        failures.append(f"tessera compare exit {compare.returncode}, largest relative error {error}")
    # The pass alone moves data only: at basic, with the Conv folding it opens up off on both sides, the same bits.
    exact = subprocess.run([cli, "compare", model, "--opt-level-a", "basic", "--disable-pass-a", "transpose_pushdown",
                            "--disable-pass-a", "conv_mul_add_folding", "--opt-level-b", "basic", "--disable-pass-b",
                            "conv_mul_add_folding"], capture_output=True, text=True)
    largest = re.search(r"largest relative error: (\S+)", exact.stdout)
    print(f"tessera compare basic with vs without transpose_pushdown: {largest.group(0) if largest else exact.stdout}")
    if exact.returncode != 0 or not largest or float(largest.group(1)) != 0:
        failures.append("transpose_pushdown changed a value at basic (conv_mul_add_folding off)")
    basic = os.path.join(work, "keras_style_nhwc.basic.onnx")
    subprocess.run([cli, "optimize", model, basic, "--opt-level", "basic"], check=True, stdout=subprocess.DEVNULL)
    onnx.checker.check_model(onnx.load(basic))
    import onnxruntime as ort

    x = np.random.default_rng(1).standard_normal((1, 16, 16, 3)).astype(np.float32)
    a = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    b = ort.InferenceSession(basic, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    difference = float(np.max(np.abs(a - b)))
    print(f"ONNX Runtime, original vs Tessera basic output: max abs difference {difference:.2e}")
    if not difference < 1e-5:
        failures.append(f"ONNX Runtime outputs differ by {difference}")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
