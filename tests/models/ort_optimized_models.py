#!/usr/bin/env python3
"""Models as ONNX Runtime's optimizer saves them: each OUT/<name>/model.onnx of the whole-model tests is loaded by
ONNX Runtime 1.31 at ORT_ENABLE_EXTENDED with `optimized_model_filepath`, which writes the com.microsoft contrib ops
its optimizer fuses (FusedConv, FusedGemm, FusedMatMul, BiasGelu, SkipLayerNormalization, ...). The saved model and
ONNX Runtime's own outputs on the test's inputs go to DEST/<name>/ as a backend-test folder, which Tessera then
runs like any conformance folder: Tessera on ONNX Runtime's optimized model must give ONNX Runtime's outputs.

    .venv/bin/python tests/models/ort_optimized_models.py OUT DEST
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import sys

import onnx
import onnxruntime
from onnx import numpy_helper


def load_tensor(path: str):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def main() -> int:
    source, dest = sys.argv[1], sys.argv[2]
    shutil.rmtree(dest, ignore_errors=True)
    contrib_ops = 0
    for model_path in sorted(glob.glob(os.path.join(source, "*", "model.onnx"))):
        name = os.path.basename(os.path.dirname(model_path))
        out_dir = os.path.join(dest, name)
        os.makedirs(out_dir)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = os.path.join(out_dir, "model.onnx")
        options.intra_op_num_threads = 1
        onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(os.path.join(out_dir, "model.onnx"))
        ops = sorted({f"{n.domain}.{n.op_type}" for n in optimized.graph.node if n.domain not in ("", "ai.onnx")})
        contrib_ops += len(ops)
        print(f"{name}: {len(optimized.graph.node)} nodes after ONNX Runtime's extended level; contrib ops: {ops}")
        # ONNX Runtime's outputs on its own optimized model are the expected data.
        session = onnxruntime.InferenceSession(os.path.join(out_dir, "model.onnx"), providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]
        for data_dir in sorted(glob.glob(os.path.join(os.path.dirname(model_path), "test_data_set_*"))):
            target = os.path.join(out_dir, os.path.basename(data_dir))
            os.makedirs(target)
            feeds = {}
            for k, input_name in enumerate(inputs):
                path = os.path.join(data_dir, f"input_{k}.pb")
                shutil.copy(path, target)
                feeds[input_name] = load_tensor(path)
            for k, value in enumerate(session.run(None, feeds)):
                with open(os.path.join(target, f"output_{k}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(value).SerializeToString())
        with open(os.path.join(out_dir, "data.json"), "w") as f:
            json.dump({"rtol": 1e-4, "atol": 1e-5}, f)
    if contrib_ops == 0:
        print("ONNX Runtime fused nothing into contrib ops: the test would not test them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
