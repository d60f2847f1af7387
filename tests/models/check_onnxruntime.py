#!/usr/bin/env python3
"""Second oracle for the whole-model tests: runs each OUT/<name>/model.onnx with ONNX Runtime (PyPI, in .venv)
and checks that it agrees with the outputs PyTorch wrote, within the test's data.json tolerance. A failure here
means the test data or the export is wrong, not Tessera.

    .venv/bin/python tests/models/check_onnxruntime.py OUT
"""
from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import numpy_helper


def load_tensor(path: str) -> np.ndarray:
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def main() -> int:
    root = sys.argv[1]
    failures = 0
    for model_path in sorted(glob.glob(os.path.join(root, "*", "model.onnx"))):
        test_dir = os.path.dirname(model_path)
        name = os.path.basename(test_dir)
        onnx.checker.check_model(model_path)
        tolerance = {"rtol": 1e-3, "atol": 1e-7}
        if os.path.exists(os.path.join(test_dir, "data.json")):
            with open(os.path.join(test_dir, "data.json")) as f:
                tolerance.update(json.load(f))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        feeds = [i.name for i in session.get_inputs()]
        for set_dir in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
            inputs = {n: load_tensor(os.path.join(set_dir, f"input_{k}.pb")) for k, n in enumerate(feeds)}
            got = session.run(None, inputs)
            for k, actual in enumerate(got):
                expected = load_tensor(os.path.join(set_dir, f"output_{k}.pb"))
                ok = expected.shape == actual.shape and np.allclose(actual, expected, **tolerance)
                diff = float(np.abs(actual - expected).max()) if expected.shape == actual.shape else float("nan")
                print(f"{'ok  ' if ok else 'FAIL'} {name}/{os.path.basename(set_dir)} output {k}: max |diff| {diff:.3g}")
                failures += not ok
    if not glob.glob(os.path.join(root, "*", "model.onnx")):
        print(f"no model tests under {root}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
