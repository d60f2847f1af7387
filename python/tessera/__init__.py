"""Tessera: a C++ runtime for ONNX models, with onnxruntime's Python API.

    import tessera as ort
    session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input": x})

docs/PYTHON.md lists where the API differs from onnxruntime's."""

from . import _tessera
from ._errors import (EngineError, EPFail, Error, Fail, InvalidArgument, InvalidGraph, InvalidModel,
                      InvalidProtobuf, ModelLoaded, NoModel, NoSuchFile, NotImplemented, OutOfMemory,
                      RuntimeException)
from ._options import ExecutionMode, GraphOptimizationLevel, RunOptions, SessionOptions
from ._session import InferenceSession, ModelMetadata, NodeArg, get_available_providers, get_device

__version__ = _tessera.version

__all__ = [
    "InferenceSession", "SessionOptions", "RunOptions", "GraphOptimizationLevel", "ExecutionMode", "NodeArg",
    "ModelMetadata", "get_available_providers", "get_device", "__version__",
    "Error", "Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException",
    "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph", "EPFail", "InvalidModel", "OutOfMemory",
]
