"""Fixtures shared by the Python tests: every test that takes `backend` runs once against onnxruntime and once
against tessera with the same assertions; `errors` gives that backend's exception classes."""
import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(params=["onnxruntime", "tessera"])
def backend(request):
    return pytest.importorskip(request.param) if request.param == "onnxruntime" else __import__(request.param)


@pytest.fixture
def errors(backend):
    """The module holding the backend's exception classes (onnxruntime keeps them in its pybind11 state)."""
    if backend.__name__ == "onnxruntime":
        from onnxruntime.capi import onnxruntime_pybind11_state
        return onnxruntime_pybind11_state
    return backend


def make_model(nodes, inputs, outputs, initializers=(), opset=17, **model_fields):
    """Serialized ModelProto (IR 8, which both backends read) from onnx.helper pieces."""
    graph = helper.make_graph(nodes, "test_graph", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8, **model_fields)
    return model.SerializeToString()


def tensor_info(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


@pytest.fixture(scope="session")
def torch_model_dir(tmp_path_factory):
    """An attention block exported with PyTorch by export_torch_model.py (Debian's python: its numpy matches
    Debian's torch), with PyTorch's outputs for three sequence lengths."""
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("/usr/bin/python3 (Debian's python with python3-torch) is needed to export the model")
    out = tmp_path_factory.mktemp("torch_model")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "export_torch_model.py"), str(out)], check=True,
                   capture_output=True, timeout=300)
    return out


def cpu_session(backend, model, options=None):
    return backend.InferenceSession(model, options, providers=["CPUExecutionProvider"])


__all__ = ["make_model", "tensor_info", "cpu_session", "np", "TensorProto", "sys"]
