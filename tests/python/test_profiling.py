"""enable_profiling writes a Chrome-trace JSON with one event per node run (op, provider, shapes) and per run."""
import json
import os

import numpy as np
from onnx import TensorProto, helper

from conftest import cpu_session, make_model, tensor_info


def _events(path):
    with open(path) as f:
        trace = json.load(f)
    # onnxruntime writes a bare event list; tessera writes {"traceEvents": [...]}: both are Chrome-trace JSON.
    return trace if isinstance(trace, list) else trace["traceEvents"]


def test_profile_has_node_and_run_events(backend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = make_model([helper.make_node("Relu", ["x"], ["r"], name="relu_node"),
                        helper.make_node("Neg", ["r"], ["y"], name="neg_node")],
                       [tensor_info("x", TensorProto.FLOAT, ["batch", 3])], [tensor_info("y", TensorProto.FLOAT, ["batch", 3])])
    options = backend.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = "trace"
    options.graph_optimization_level = backend.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = cpu_session(backend, model, options)
    for batch in (2, 5):
        session.run(None, {"x": np.ones((batch, 3), np.float32)})
    path = session.end_profiling()
    assert os.path.basename(path).startswith("trace") and path.endswith(".json")
    events = _events(path)
    assert all(e["ph"] == "X" and "ts" in e and "dur" in e for e in events if e.get("ph") == "X")
    relu = [e for e in events if e.get("cat") == "Node" and e["args"].get("op_name") == "Relu"
            and e["name"].startswith("relu_node")]
    assert len(relu) >= 2
    assert all(e["args"]["provider"] == "CPUExecutionProvider" for e in relu)
    assert sum(1 for e in events if e.get("name") == "model_run") == 2
    shapes = json.dumps([e["args"] for e in relu])
    assert "5" in shapes and "3" in shapes
    # end_profiling stops recording.
    session.run(None, {"x": np.ones((1, 3), np.float32)})
    assert session.end_profiling() == ""
    assert sum(1 for e in _events(path) if e.get("name") == "model_run") == 2


def test_profiling_off_writes_nothing(backend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor_info("x", TensorProto.FLOAT, [1])],
                       [tensor_info("y", TensorProto.FLOAT, [1])])
    session = cpu_session(backend, model)
    session.run(None, {"x": np.ones(1, np.float32)})
    assert session.end_profiling() == ""
    assert os.listdir(tmp_path) == []


def _conv_model():
    """x [batch, 3, 128, 128] -> Conv 3x3 to 32 channels (2 MiB of output per image) -> Relu: a graph that splits its
    batch (docs/ARCHITECTURE.md, "Batch splitting")."""
    weights = helper.make_tensor("w", TensorProto.FLOAT, [32, 3, 3, 3],
                                 np.linspace(-0.5, 0.5, 32 * 27, dtype=np.float32).tolist())
    return make_model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv_node"),
                       helper.make_node("Relu", ["c"], ["y"])],
                      [tensor_info("x", TensorProto.FLOAT, ["batch", 3, 128, 128])],
                      [tensor_info("y", TensorProto.FLOAT, ["batch", 32, 128, 128])], initializers=[weights])


def test_split_batch_config_entry(tmp_path, monkeypatch):
    """A batch of 4 runs as single images (its profile shows the convolution on [1, ...] four times), or whole with
    "tessera.split_batch" = "0"; the outputs agree."""
    import tessera
    monkeypatch.chdir(tmp_path)
    x = np.random.default_rng(0).standard_normal((4, 3, 128, 128)).astype(np.float32)
    outputs, shapes = [], []
    for split in ("1", "0"):
        options = tessera.SessionOptions()
        options.intra_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = f"split_{split}"
        options.add_session_config_entry("tessera.split_batch", split)
        session = cpu_session(tessera, _conv_model(), options)
        outputs.append(session.run(None, {"x": x})[0])
        conv = [e for e in _events(session.end_profiling()) if e.get("cat") == "Node" and "conv" in e["name"]]
        shapes.append(sorted({e["args"]["input_shapes"][0] for e in conv}))
        assert len(conv) == (4 if split == "1" else 1)
    assert shapes == [["float[1,3,128,128]"], ["float[4,3,128,128]"]]
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
