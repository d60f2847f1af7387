"""The onnxruntime session API, checked with the same assertions against onnxruntime and tessera: results
against PyTorch, dtype round trips, dynamic shapes, bytes and path models, output selection, metadata."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import cpu_session, make_model, tensor_info

ml_dtypes = pytest.importorskip("ml_dtypes")


def test_torch_export_matches_pytorch_at_every_sequence_length(backend, torch_model_dir):
    session = cpu_session(backend, str(torch_model_dir / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert session.get_inputs()[0].shape == ["batch", "sequence", 16]
    for length in (3, 5, 9):
        x = np.load(torch_model_dir / f"input_{length}.npy")
        expected = np.load(torch_model_dir / f"expected_{length}.npy")
        (y,) = session.run(None, {"x": x})
        assert y.shape == (2, length, 16)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_torch_export_from_bytes_equals_from_path(backend, torch_model_dir):
    path = torch_model_dir / "model.onnx"
    x = np.load(torch_model_dir / "input_5.npy")
    from_path = cpu_session(backend, str(path)).run(None, {"x": x})[0]
    from_bytes = cpu_session(backend, path.read_bytes()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(from_path, from_bytes)


def _identity_model(elem_type, opset=17):
    return make_model([helper.make_node("Identity", ["x"], ["y"])], [tensor_info("x", elem_type, [2, 3])],
                      [tensor_info("y", elem_type, [2, 3])], opset=opset)


NUMPY_DTYPES = {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16,
    TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.INT16: np.int16,
    TensorProto.UINT16: np.uint16, TensorProto.INT32: np.int32, TensorProto.UINT32: np.uint32,
    TensorProto.INT64: np.int64, TensorProto.UINT64: np.uint64,
}


@pytest.mark.parametrize("elem_type", sorted(NUMPY_DTYPES), ids=lambda t: TensorProto.DataType.Name(t))
def test_numeric_dtype_round_trip(backend, elem_type):
    dtype = NUMPY_DTYPES[elem_type]
    x = (np.arange(6).reshape(2, 3) * 3 + 1).astype(dtype)
    (y,) = cpu_session(backend, _identity_model(elem_type)).run(None, {"x": x})
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(y, x), "an output must not alias the caller's feed"


def test_bool_round_trip(backend):
    x = np.array([[True, False, True], [False, False, True]])
    model = make_model([helper.make_node("Not", ["x"], ["y"])], [tensor_info("x", TensorProto.BOOL, [2, 3])],
                       [tensor_info("y", TensorProto.BOOL, [2, 3])])
    (y,) = cpu_session(backend, model).run(None, {"x": x})
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, ~x)


def test_string_round_trip(backend):
    x = np.array([["a", "bc", ""], ["é", "longer text", "f"]], dtype=object)
    (y,) = cpu_session(backend, _identity_model(TensorProto.STRING)).run(None, {"x": x})
    assert y.dtype == object and y.shape == (2, 3)
    assert y.tolist() == x.tolist()


def test_string_feed_from_unicode_array(backend):
    x = np.array([["Abc", "dEF", "g"], ["", "hi", "jkl"]])  # a numpy '<U3' array, not object
    (y,) = cpu_session(backend, _identity_model(TensorProto.STRING)).run(None, {"x": x})
    assert y.dtype == object
    assert y.tolist() == x.tolist()


# numpy has no bfloat16 or float8; onnxruntime's Python binding cannot take ml_dtypes arrays.
ML_DTYPES = {TensorProto.BFLOAT16: "bfloat16", TensorProto.FLOAT8E4M3FN: "float8_e4m3fn"}


@pytest.mark.parametrize("elem_type", sorted(ML_DTYPES), ids=lambda t: TensorProto.DataType.Name(t))
def test_ml_dtypes_round_trip(backend, elem_type):
    if backend.__name__ == "onnxruntime":
        pytest.xfail("onnxruntime 1.31's Python binding refuses ml_dtypes arrays (Numpy_type can't be converted)")
    dtype = getattr(ml_dtypes, ML_DTYPES[elem_type])
    x = np.array([[0.5, -1.0, 2.0], [3.0, -0.25, 0.0]]).astype(dtype)
    (y,) = cpu_session(backend, _identity_model(elem_type, opset=21)).run(None, {"x": x})
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y.astype(np.float32), x.astype(np.float32))


def test_bfloat16_arithmetic(backend):
    if backend.__name__ == "onnxruntime":
        pytest.xfail("onnxruntime 1.31's Python binding refuses ml_dtypes arrays (Numpy_type can't be converted)")
    a = np.array([1.5, -2.0, 3.25], dtype=ml_dtypes.bfloat16)
    model = make_model([helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
                        helper.make_node("Add", ["f", "f"], ["y"])],
                       [tensor_info("x", TensorProto.BFLOAT16, [3])], [tensor_info("y", TensorProto.FLOAT, [3])])
    (y,) = cpu_session(backend, model).run(None, {"x": a})
    np.testing.assert_array_equal(y, np.array([3.0, -4.0, 6.5], dtype=np.float32))


def _two_output_model():
    """x: float[batch, n] -> sum = x + 1, product = x * 2, negated = -x."""
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
    return make_model([helper.make_node("Add", ["x", "one"], ["sum"]), helper.make_node("Mul", ["x", "two"], ["product"]),
                       helper.make_node("Neg", ["x"], ["negated"])],
                      [tensor_info("x", TensorProto.FLOAT, ["batch", None])],
                      [tensor_info(n, TensorProto.FLOAT, ["batch", None]) for n in ("sum", "product", "negated")],
                      initializers=[one, two], producer_name="tessera-tests", doc_string="three outputs")


def test_named_outputs_in_requested_order(backend):
    session = cpu_session(backend, _two_output_model())
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    negated, total = session.run(["negated", "sum"], {"x": x})
    np.testing.assert_array_equal(negated, -x)
    np.testing.assert_array_equal(total, x + 1)
    assert len(session.run([], {"x": x})) == 3
    everything = session.run(None, {"x": x})
    np.testing.assert_array_equal(everything[1], x * 2)


def test_dynamic_dims_accept_any_size(backend):
    session = cpu_session(backend, _two_output_model())
    for shape in [(1, 1), (4, 7), (0, 3)]:
        x = np.ones(shape, dtype=np.float32)
        (product,) = session.run(["product"], {"x": x})
        assert product.shape == shape
        np.testing.assert_array_equal(product, 2 * x)


def test_input_and_output_descriptions(backend):
    session = cpu_session(backend, _two_output_model())
    (x,) = session.get_inputs()
    assert (x.name, x.type, x.shape) == ("x", "tensor(float)", ["batch", None])
    assert [o.name for o in session.get_outputs()] == ["sum", "product", "negated"]
    assert session.get_outputs()[0].type == "tensor(float)"
    assert session.get_overridable_initializers() == []


def test_overridable_initializer(backend):
    bias = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "bias")
    model = make_model([helper.make_node("Add", ["x", "bias"], ["y"])],
                       [tensor_info("x", TensorProto.FLOAT, [2]), tensor_info("bias", TensorProto.FLOAT, [2])],
                       [tensor_info("y", TensorProto.FLOAT, [2])], initializers=[bias])
    session = cpu_session(backend, model)
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert [(i.name, i.type, i.shape) for i in session.get_overridable_initializers()] == [("bias", "tensor(float)", [2])]
    x = np.array([10.0, 20.0], dtype=np.float32)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], [11.0, 22.0])
    np.testing.assert_array_equal(session.run(None, {"x": x, "bias": np.array([0.5, 0.5], np.float32)})[0], [10.5, 20.5])


def test_model_metadata(backend):
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "meta_graph",
                                                [tensor_info("x", TensorProto.FLOAT, [1])],
                                                [tensor_info("y", TensorProto.FLOAT, [1])]),
                              opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="maker",
                              domain="ai.example", model_version=42, doc_string="a test model")
    helper.set_model_props(model, {"author": "tests", "purpose": "metadata"})
    meta = cpu_session(backend, model.SerializeToString()).get_modelmeta()
    assert (meta.producer_name, meta.graph_name, meta.domain, meta.description, meta.version) == \
        ("maker", "meta_graph", "ai.example", "a test model", 42)
    assert meta.custom_metadata_map == {"author": "tests", "purpose": "metadata"}


def test_providers_device_and_version(backend):
    session = cpu_session(backend, _two_output_model())
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert session.get_provider_options() == {"CPUExecutionProvider": {}}
    assert "CPUExecutionProvider" in backend.get_available_providers()
    assert backend.get_device() == "CPU"
    assert isinstance(backend.__version__, str) and backend.__version__[0].isdigit()


def test_session_options_members(backend):
    options = backend.SessionOptions()
    assert options.graph_optimization_level == backend.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == backend.ExecutionMode.ORT_SEQUENTIAL
    assert options.intra_op_num_threads == 0
    assert options.profile_file_prefix == "onnxruntime_profile_"
    for level in ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"):
        options.graph_optimization_level = getattr(backend.GraphOptimizationLevel, level)
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.execution_mode = backend.ExecutionMode.ORT_PARALLEL
        options.log_severity_level = 3
        options.add_session_config_entry("session.use_env_allocators", "0")
        assert options.get_session_config_entry("session.use_env_allocators") == "0"
        x = np.arange(4, dtype=np.float32).reshape(2, 2)
        np.testing.assert_array_equal(cpu_session(backend, _two_output_model(), options).run(["sum"], {"x": x})[0], x + 1)


def test_memory_pattern_on_and_off_give_the_same_outputs(backend):
    # enable_mem_pattern (default True): the first run at a shape is recorded, the runs after it place their
    # intermediates by that plan; a new shape records a new one. Off, every intermediate is allocated as made.
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Exp", ["a"], ["b"]),
             helper.make_node("MatMul", ["a", "b"], ["c"]), helper.make_node("Add", ["c", "a"], ["y"])]
    model = make_model(nodes, [tensor_info("x", TensorProto.FLOAT, ["n", "n"])],
                       [tensor_info("y", TensorProto.FLOAT, None)])
    sessions = {}
    for pattern in (True, False):
        options = backend.SessionOptions()
        options.enable_mem_pattern = pattern
        sessions[pattern] = cpu_session(backend, model, options)
    rng = np.random.default_rng(7)
    for n in (48, 48, 48, 5, 48, 5):
        x = rng.standard_normal((n, n), dtype=np.float32) * 0.1
        planned, = sessions[True].run(None, {"x": x})
        plain, = sessions[False].run(None, {"x": x})
        np.testing.assert_array_equal(planned, plain)


def test_free_dimension_override(backend):
    options = backend.SessionOptions()
    options.add_free_dimension_override_by_name("batch", 3)
    session = cpu_session(backend, _two_output_model(), options)
    assert session.get_inputs()[0].shape[0] == 3
    np.testing.assert_array_equal(session.run(["sum"], {"x": np.zeros((3, 2), np.float32)})[0], np.ones((3, 2)))


def test_run_options_terminate(backend, errors):
    session = cpu_session(backend, _two_output_model())
    options = backend.RunOptions()
    options.terminate = True
    with pytest.raises(errors.Fail, match="terminate"):
        session.run(None, {"x": np.ones((1, 1), np.float32)}, options)
    options.terminate = False
    assert session.run(["sum"], {"x": np.ones((1, 1), np.float32)}, options)[0][0, 0] == 2.0


def test_non_contiguous_and_read_only_inputs(backend):
    session = cpu_session(backend, _two_output_model())
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    strided = base[:, ::2]
    (product,) = session.run(["product"], {"x": strided})
    np.testing.assert_array_equal(product, strided * 2)
    frozen = base.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(session.run(["sum"], {"x": frozen})[0], base + 1)


def test_outputs_are_writable_and_independent(backend):
    session = cpu_session(backend, _two_output_model())
    x = np.ones((2, 2), np.float32)
    first = session.run(["sum"], {"x": x})[0]
    first[:] = -5
    second = session.run(["sum"], {"x": x})[0]
    np.testing.assert_array_equal(second, np.full((2, 2), 2.0))


def test_optimized_model_filepath_writes_a_runnable_model(backend, tmp_path):
    options = backend.SessionOptions()
    options.graph_optimization_level = backend.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    expected = cpu_session(backend, _two_output_model(), options).run(None, {"x": x})
    assert (tmp_path / "optimized.onnx").exists()
    reloaded = cpu_session(backend, str(tmp_path / "optimized.onnx")).run(None, {"x": x})
    for a, b in zip(expected, reloaded):
        np.testing.assert_array_equal(a, b)


def _passthrough_model():
    """from_w = Identity(w) of an initializer, from_x = Reshape(x) of the feed: both pass memory through."""
    weights = numpy_helper.from_array(np.arange(1, 7, dtype=np.float32).reshape(2, 3), "w")
    shape = numpy_helper.from_array(np.array([3, 2], np.int64), "shape")
    nodes = [helper.make_node("Identity", ["w"], ["from_w"]), helper.make_node("Reshape", ["x", "shape"], ["from_x"])]
    outputs = [tensor_info("from_w", TensorProto.FLOAT, [2, 3]), tensor_info("from_x", TensorProto.FLOAT, [3, 2])]
    return make_model(nodes, [tensor_info("x", TensorProto.FLOAT, [2, 3])], outputs, initializers=[weights, shape])


def test_writing_into_passthrough_outputs_changes_neither_weights_nor_feeds(backend):
    session = cpu_session(backend, _passthrough_model())
    x = np.arange(6, dtype=np.float32).reshape(2, 3) + 10
    for _ in range(3):
        from_w, from_x = session.run(None, {"x": x})
        np.testing.assert_array_equal(from_w, np.arange(1, 7, dtype=np.float32).reshape(2, 3))
        np.testing.assert_array_equal(from_x, (np.arange(6, dtype=np.float32) + 10).reshape(3, 2))
        assert not np.shares_memory(from_x, x)
        from_w[:] = -1
        from_x[:] = -1
        np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(2, 3) + 10)
