#!/usr/bin/env python3
"""Models that carry the com.microsoft contrib ops which ONNX Runtime's transformer optimizer writes into
decoder-style models (SkipSimplifiedLayerNormalization, SimplifiedLayerNormalization, QuickGelu), built with
onnx.helper because the export-and-optimize route cannot produce them yet for Tessera to run: the optimizer's BERT
and GPT-2 outputs also carry contrib Attention and EmbedLayerNormalization, which Tessera does not implement yet.
Each model is run by ONNX Runtime 1.31 on seeded random inputs; the model, the inputs and ONNX Runtime's outputs go
to DEST/<name>/ as a backend-test folder, which `tessera conformance DEST` then runs: Tessera must give ONNX
Runtime's outputs (rtol 1e-4, atol 1e-5).

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


def write_case(dest: str, name: str, graph: onnx.GraphProto) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              ir_version=8)
    out_dir = os.path.join(dest, name)
    data_dir = os.path.join(out_dir, "test_data_set_0")
    os.makedirs(data_dir)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {}
    for k, info in enumerate(session.get_inputs()):
        shape = [d if isinstance(d, int) else 1 for d in info.shape]
        feeds[info.name] = (rng.standard_normal(shape) * 2).astype(np.float32)
        with open(os.path.join(data_dir, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(feeds[info.name], info.name).SerializeToString())
    ops = sorted({f"{n.domain or 'ai.onnx'}.{n.op_type}" for n in graph.node})
    for k, value in enumerate(session.run(None, feeds)):
        if not np.isfinite(value).all():
            raise SystemExit(f"{name}: ONNX Runtime output {k} is not finite")
        with open(os.path.join(data_dir, f"output_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(value).SerializeToString())
    with open(os.path.join(out_dir, "data.json"), "w") as f:
        json.dump({"rtol": 1e-4, "atol": 1e-5}, f)
    print(f"{name}: ops {ops}; ONNX Runtime's outputs written")


def main() -> int:
    dest = sys.argv[1]
    shutil.rmtree(dest, ignore_errors=True)
    write_case(dest, "skip_simplified_layer_norm", skip_simplified())
    write_case(dest, "simplified_decoder_block", simplified_decoder_block())
    return 0


if __name__ == "__main__":
    sys.exit(main())
