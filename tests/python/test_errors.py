"""Bad input raises a clear error of the matching class, on onnxruntime and on tessera alike."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from conftest import cpu_session, make_model, tensor_info


@pytest.fixture
def session(backend):
    """x: float[batch, 3] -> y = Relu(x)."""
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor_info("x", TensorProto.FLOAT, ["batch", 3])],
                       [tensor_info("y", TensorProto.FLOAT, ["batch", 3])])
    return cpu_session(backend, model)


def test_unknown_input_name(session, errors):
    with pytest.raises(errors.InvalidArgument, match="z"):
        session.run(None, {"x": np.zeros((1, 3), np.float32), "z": np.zeros((1, 3), np.float32)})


def test_missing_input(session):
    # onnxruntime raises ValueError; tessera's InvalidArgument is also a ValueError.
    with pytest.raises(ValueError, match="x"):
        session.run(None, {})


def test_wrong_dtype_names_both_types(session, errors):
    with pytest.raises(errors.InvalidArgument, match=r"(?s)(?=.*double)(?=.*float)"):
        session.run(None, {"x": np.zeros((1, 3), np.float64)})


def test_wrong_rank(session, errors):
    with pytest.raises(errors.InvalidArgument, match=r"(?i)rank.*x|x.*rank"):
        session.run(None, {"x": np.zeros((3,), np.float32)})


def test_wrong_fixed_dim_names_the_sizes(session, errors):
    with pytest.raises(errors.InvalidArgument, match=r"(?s)x.*4.*3|x.*3.*4"):
        session.run(None, {"x": np.zeros((2, 4), np.float32)})


def test_unknown_output_name(session, errors):
    with pytest.raises(errors.InvalidArgument, match="nope"):
        session.run(["nope"], {"x": np.zeros((1, 3), np.float32)})


def test_garbage_model_bytes(backend, errors):
    with pytest.raises(errors.InvalidProtobuf):
        cpu_session(backend, b"\x08\x07 this is not a protobuf \xff\xff\xff")


def test_missing_model_file(backend, errors, tmp_path):
    missing = tmp_path / "absent.onnx"
    with pytest.raises(errors.NoSuchFile, match="absent.onnx"):
        cpu_session(backend, str(missing))


def test_graph_reading_an_undefined_value(backend, errors):
    model = make_model([helper.make_node("Relu", ["nowhere"], ["y"])], [tensor_info("x", TensorProto.FLOAT, [1])],
                       [tensor_info("y", TensorProto.FLOAT, [1])])
    # onnxruntime reports this one as InvalidArgument ("Invalid model. Node input ..."), tessera as InvalidGraph.
    with pytest.raises((errors.InvalidGraph, errors.InvalidArgument), match="nowhere"):
        cpu_session(backend, model)


def test_unsupported_operator(backend, errors):
    model = make_model([helper.make_node("NoSuchOperator", ["x"], ["y"])], [tensor_info("x", TensorProto.FLOAT, [1])],
                       [tensor_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises((errors.NotImplemented, errors.InvalidGraph, errors.Fail), match="NoSuchOperator"):
        cpu_session(backend, model)


def test_errors_share_a_base_class_in_tessera():
    import tessera
    for name in ("Fail", "InvalidArgument", "NoSuchFile", "InvalidGraph", "InvalidProtobuf", "NotImplemented",
                 "RuntimeException", "EngineError", "EPFail", "NoModel", "ModelLoaded"):
        assert issubclass(getattr(tessera, name), tessera.Error)
    assert issubclass(tessera.Error, RuntimeError)
