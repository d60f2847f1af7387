"""Tessera's own run deadline (RunOptions.timeout_ms) and resource limits (SessionOptions.max_*), which
onnxruntime does not have: an endless Loop stopped by the deadline with the session usable afterwards, and the
limits refusing with the node named. Also its "tessera.matmul_precision" config entry."""
import time

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import make_model, tensor_info

import tessera


def _counting_loop_model():
    """limit: int64 scalar -> v = Loop(no trip count, cond true) adding 1 to v while i < limit."""
    body = helper.make_graph(
        [helper.make_node("Less", ["i", "limit"], ["cond_out"], name="keep_going"),
         helper.make_node("Add", ["v_in", "one"], ["v_out"], name="increment")],
        "body",
        [tensor_info("i", TensorProto.INT64, []), tensor_info("cond_in", TensorProto.BOOL, []),
         tensor_info("v_in", TensorProto.FLOAT, [1])],
        [tensor_info("cond_out", TensorProto.BOOL, []), tensor_info("v_out", TensorProto.FLOAT, [1])],
        initializer=[numpy_helper.from_array(np.ones(1, np.float32), "one")])
    loop = helper.make_node("Loop", ["", "go", "v0"], ["v"], name="loop", body=body)
    initializers = [numpy_helper.from_array(np.zeros(1, np.float32), "v0"),
                    numpy_helper.from_array(np.array(True), "go")]
    return make_model([loop], [tensor_info("limit", TensorProto.INT64, [])], [tensor_info("v", TensorProto.FLOAT, [1])],
                      initializers=initializers)


def _session(**limits):
    options = tessera.SessionOptions()
    for name, value in limits.items():
        setattr(options, name, value)
    return tessera.InferenceSession(_counting_loop_model(), options, providers=["CPUExecutionProvider"])


def test_timeout_stops_an_endless_loop_and_the_session_runs_again():
    session = _session()
    options = tessera.RunOptions()
    options.timeout_ms = 200
    start = time.monotonic()
    with pytest.raises(tessera.RuntimeException, match=r"deadline \(RunOptions timeout of 200 ms\)"):
        session.run(None, {"limit": np.array(np.iinfo(np.int64).max)}, options)
    assert 0.2 <= time.monotonic() - start < 10
    (v,) = session.run(None, {"limit": np.array(5, np.int64)}, options)
    assert v[0] == 6.0


def test_loop_iteration_limit_names_the_node():
    session = _session(max_loop_iterations=50)
    with pytest.raises(tessera.RuntimeException, match=r"node 'loop' \(Loop\).*max_loop_iterations \(50\)"):
        session.run(None, {"limit": np.array(1000, np.int64)})
    assert session.run(None, {"limit": np.array(10, np.int64)})[0][0] == 11.0


def test_model_size_and_depth_limits_refuse_at_creation():
    with pytest.raises(tessera.InvalidGraph, match="max_model_bytes"):
        _session(max_model_bytes=16)
    with pytest.raises(tessera.InvalidGraph, match=r"max_graph_depth \(0\)"):
        _session(max_graph_depth=0)
    with pytest.raises(tessera.InvalidArgument, match="max_tensor_bytes must be >= 0"):
        _session(max_tensor_bytes=-1)


def test_max_live_bytes_refuses_the_node_that_would_pass_it():
    """a = Relu(x), b = Neg(a), y = Add(a, b): a and b (4 KiB each) are live when Add allocates y. Both are graph
    outputs too, so Add cannot write y over either (in-place elementwise would need no new memory)."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"), helper.make_node("Neg", ["a"], ["b"], name="neg"),
             helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    model = make_model(nodes, [tensor_info("x", TensorProto.FLOAT, [1024])],
                       [tensor_info(name, TensorProto.FLOAT, [1024]) for name in ("y", "a", "b")])
    x = np.ones(1024, np.float32)
    for limit, fits in ((3 * 4096, True), (3 * 4096 - 1, False)):
        options = tessera.SessionOptions()
        options.graph_optimization_level = tessera.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.max_live_bytes = limit
        session = tessera.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        if fits:
            np.testing.assert_array_equal(session.run(None, {"x": x})[0], np.zeros(1024, np.float32))
        else:
            with pytest.raises(tessera.OutOfMemory, match=r"node 'add' \(Add\).*max_live_bytes \(12287\)"):
                session.run(None, {"x": x})


@pytest.mark.parametrize("threads", [1, 2])
def test_set_denormal_as_zero_config_entry_flushes_like_onnxruntime(threads):
    """The "session.set_denormal_as_zero" config entry (onnxruntime's name) flushes denormal results to zero on
    every thread that runs the model; without it they stay denormal."""
    model = make_model([helper.make_node("Mul", ["x", "tiny"], ["y"])], [tensor_info("x", TensorProto.FLOAT, [1 << 20])],
                       [tensor_info("y", TensorProto.FLOAT, [1 << 20])],
                       initializers=[numpy_helper.from_array(np.array(1e-30, np.float32), "tiny")])
    x = np.full(1 << 20, 1e-10, np.float32)
    results = {}
    for flush in (False, True):
        options = tessera.SessionOptions()
        options.intra_op_num_threads = threads
        if flush:
            options.add_session_config_entry("session.set_denormal_as_zero", "1")
        session = tessera.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        results[flush] = session.run(None, {"x": x})[0]
    assert np.all(results[True] == 0)
    assert np.all(results[False] > 0)


def test_matmul_precision_config_entry_runs_constant_weights_in_bfloat16():
    """"tessera.matmul_precision" = "bf16" rounds a constant MatMul weight and the activations to bfloat16 (float32
    sums and output): the result is the float32 product of the rounded operands, not the float32 one, for MatMul and
    for Conv; other values are refused."""
    import ml_dtypes
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (64, 24)).astype(np.float32)
    x = rng.uniform(-1, 1, (5, 64)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [tensor_info("x", TensorProto.FLOAT, [5, 64])],
                       [tensor_info("y", TensorProto.FLOAT, [5, 24])], initializers=[numpy_helper.from_array(w, "w")])
    results = {}
    for precision in ("fp32", "bf16"):
        options = tessera.SessionOptions()
        options.add_session_config_entry("tessera.matmul_precision", precision)
        session = tessera.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        results[precision] = session.run(None, {"x": x})[0]
    rounded = lambda a: a.astype(ml_dtypes.bfloat16).astype(np.float64)
    np.testing.assert_allclose(results["bf16"], rounded(x) @ rounded(w), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(results["fp32"], x.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)
    assert np.abs(results["bf16"] - results["fp32"]).max() > 1e-3
    # A convolution with constant weights (group 1, depth 16 x 3 x 3, 64 channels) runs on the bf16 GEMM too: the
    # float32 convolution of the rounded input and weights.
    wc = rng.uniform(-1, 1, (64, 16, 3, 3)).astype(np.float32)
    xc = rng.uniform(-1, 1, (1, 16, 9, 10)).astype(np.float32)
    conv = lambda weights: make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
        [tensor_info("x", TensorProto.FLOAT, [1, 16, 9, 10])], [tensor_info("y", TensorProto.FLOAT, [1, 64, 9, 10])],
        initializers=[numpy_helper.from_array(weights, "w")])
    runs = {}
    for precision, weights, feed in (("bf16", wc, xc), ("fp32", wc, xc),
                                     ("rounded", rounded(wc).astype(np.float32), rounded(xc).astype(np.float32))):
        options = tessera.SessionOptions()
        options.add_session_config_entry("tessera.matmul_precision", "bf16" if precision == "bf16" else "fp32")
        session = tessera.InferenceSession(conv(weights), options, providers=["CPUExecutionProvider"])
        runs[precision] = session.run(None, {"x": feed})[0]
    np.testing.assert_allclose(runs["bf16"], runs["rounded"], rtol=1e-4, atol=1e-4)
    assert np.abs(runs["bf16"] - runs["fp32"]).max() > 1e-3
    options = tessera.SessionOptions()
    options.add_session_config_entry("tessera.matmul_precision", "int8")
    with pytest.raises(tessera.InvalidArgument, match="tessera.matmul_precision must be fp32 or bf16"):
        tessera.InferenceSession(model, options, providers=["CPUExecutionProvider"])
