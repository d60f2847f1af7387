#!/usr/bin/env python3
"""Runs ONNX Runtime (PyPI, in .venv) over ONNX backend test folders and prints its `N passed, N failed` in the
same form as `tessera conformance`, to put the two side by side on the same tests and machine. Comparison as
ONNX's backend runner: dtype and shape equal, floats within atol + rtol * |expected| (1e-7 / 1e-3, or the test's
data.json), NaN equal to NaN, everything else exact. A model ONNX Runtime refuses, or a run that raises, fails.

    .venv/bin/python tests/conformance/onnxruntime_counts.py build/onnx-1.23-tests/node [--list-failures]
"""
import glob
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import numpy_helper


def read_value(path, type_proto):
    data = open(path, "rb").read()
    if type_proto.HasField("sequence_type"):
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return numpy_helper.to_list(seq)
    if type_proto.HasField("optional_type"):
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return numpy_helper.to_optional(opt)
    if type_proto.HasField("map_type"):
        m = onnx.MapProto()
        m.ParseFromString(data)
        return numpy_helper.to_dict(m)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return numpy_helper.to_array(tensor)


def same(expected, actual, rtol, atol):
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            same(e, a, rtol, atol) for e, a in zip(expected, actual))
    if isinstance(expected, dict) or expected is None:
        return expected == actual
    actual = np.asarray(actual)
    if expected.shape != actual.shape:
        return False
    if expected.dtype.kind in "fc":
        return actual.dtype == expected.dtype and np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    return np.array_equal(expected, actual)


def run_test(test_dir):
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    tolerance = {"rtol": 1e-3, "atol": 1e-7}
    if os.path.exists(os.path.join(test_dir, "data.json")):
        tolerance.update({k: v for k, v in json.load(open(os.path.join(test_dir, "data.json"))).items()
                          if k in ("rtol", "atol")})
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    for data_set in sorted(glob.glob(os.path.join(test_dir, "test_data_set_*"))):
        feeds = {}
        for k, info in enumerate(inputs):
            path = os.path.join(data_set, f"input_{k}.pb")
            if os.path.exists(path):
                feeds[info.name] = read_value(path, info.type)
        outputs = session.run(None, feeds)
        for k, info in enumerate(model.graph.output):
            expected = read_value(os.path.join(data_set, f"output_{k}.pb"), info.type)
            if not same(expected, outputs[k], **tolerance):
                return False
    return True


def main():
    root = sys.argv[1]
    passed, failed = 0, []
    for test_dir in sorted(glob.glob(os.path.join(root, "test_*"))):
        try:
            ok = run_test(test_dir)
        except Exception:  # noqa: BLE001 - any refusal or error is a failed test, as in tessera conformance
            ok = False
        if ok:
            passed += 1
        else:
            failed.append(os.path.basename(test_dir))
    if "--list-failures" in sys.argv:
        for name in failed:
            print("FAIL", name)
    print(f"onnxruntime {onnxruntime.__version__}: {passed} passed, {len(failed)} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
