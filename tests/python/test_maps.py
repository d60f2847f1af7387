"""ai.onnx.ml maps at the Python API, on onnxruntime and on tessera alike: ZipMap outputs come back as lists of
dicts, dicts feed map inputs (DictVectorizer, CastMap), and the NodeArg types spell maps as onnxruntime does."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from conftest import cpu_session, tensor_info


def ml_model(nodes, inputs, outputs):
    graph = helper.make_graph(nodes, "maps", inputs, outputs)
    model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17),
                                                                  helper.make_opsetid("ai.onnx.ml", 1)])
    return model.SerializeToString()


def map_info(name, key_type, value_type):
    return helper.make_value_info(name, helper.make_map_type_proto(key_type, helper.make_tensor_type_proto(
        value_type, None)))


def zip_map_session(backend, **labels):
    node = helper.make_node("ZipMap", ["x"], ["p"], domain="ai.onnx.ml", **labels)
    key = TensorProto.STRING if "classlabels_strings" in labels else TensorProto.INT64
    out = helper.make_value_info("p", helper.make_sequence_type_proto(helper.make_map_type_proto(
        key, helper.make_tensor_type_proto(TensorProto.FLOAT, None))))
    return cpu_session(backend, ml_model([node], [tensor_info("x", TensorProto.FLOAT, ["N", 3])], [out]))


def test_zip_map_int64_labels_give_a_list_of_dicts(backend):
    session = zip_map_session(backend, classlabels_int64s=[10, 2, 7])
    assert session.get_outputs()[0].type == "seq(map(int64,tensor(float)))"
    assert session.get_outputs()[0].shape == []
    x = np.array([[0.5, 0.25, 0.25], [0.0, 0.125, 0.875]], np.float32)
    (result,) = session.run(None, {"x": x})
    assert result == [{2: 0.25, 7: 0.25, 10: 0.5}, {2: 0.125, 7: 0.875, 10: 0.0}]
    assert [list(d) for d in result] == [[2, 7, 10], [2, 7, 10]]
    assert all(type(k) is int and type(v) is float for d in result for k, v in d.items())


def test_zip_map_string_labels(backend):
    session = zip_map_session(backend, classlabels_strings=["setosa", "virginica", "versicolor"])
    (result,) = session.run(None, {"x": np.array([[0.75, 0.125, 0.125]], np.float32)})
    assert result == [{"setosa": 0.75, "versicolor": 0.125, "virginica": 0.125}]
    assert list(result[0]) == ["setosa", "versicolor", "virginica"]


def test_dict_feeds_dict_vectorizer(backend):
    node = helper.make_node("DictVectorizer", ["m"], ["y"], domain="ai.onnx.ml", string_vocabulary=["a", "b", "c"])
    session = cpu_session(backend, ml_model([node], [map_info("m", TensorProto.STRING, TensorProto.FLOAT)],
                                            [tensor_info("y", TensorProto.FLOAT, [1, 3])]))
    assert session.get_inputs()[0].type == "map(string,tensor(float))"
    assert session.get_inputs()[0].shape == []
    (y,) = session.run(None, {"m": {"c": 3.5, "a": 1.0, "zzz": 9.0}})
    np.testing.assert_array_equal(y, np.array([[1.0, 0.0, 3.5]], np.float32))
    assert y.dtype == np.float32


def test_dict_feeds_cast_map(backend):
    node = helper.make_node("CastMap", ["m"], ["y"], domain="ai.onnx.ml", cast_to="TO_INT64", map_form="SPARSE",
                            max_map=4)
    session = cpu_session(backend, ml_model([node], [map_info("m", TensorProto.INT64, TensorProto.FLOAT)],
                                            [tensor_info("y", TensorProto.INT64, [1, 4])]))
    (y,) = session.run(None, {"m": {3: 30.75, 0: 7.25}})
    np.testing.assert_array_equal(y, np.array([[7, 0, 0, 30]], np.int64))


def test_dict_with_wrong_key_type_is_refused(backend):
    node = helper.make_node("DictVectorizer", ["m"], ["y"], domain="ai.onnx.ml", int64_vocabulary=[1, 2])
    session = cpu_session(backend, ml_model([node], [map_info("m", TensorProto.INT64, TensorProto.FLOAT)],
                                            [tensor_info("y", TensorProto.FLOAT, [1, 2])]))
    with pytest.raises(Exception, match="m"):
        session.run(None, {"m": {"one": 1.0}})


def test_dict_for_a_tensor_input_names_the_input(backend, errors):
    if backend.__name__ == "onnxruntime":
        pytest.skip("onnxruntime reports this with a message that does not name the input")
    session = zip_map_session(backend, classlabels_int64s=[0, 1, 2])
    with pytest.raises(errors.InvalidArgument, match=r"input 'x' is tensor\(float\)"):
        session.run(None, {"x": {1: 2.0}})
