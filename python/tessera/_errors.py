"""Tessera's exception classes. Names mirror onnxruntime's (onnxruntime.capi.onnxruntime_pybind11_state), so
`except ort.InvalidArgument`-style code keeps working after `import tessera as ort`."""

from . import _tessera


class Error(RuntimeError):
    """Base class of every error Tessera raises; the message names the input, node or op and the shapes."""


class Fail(Error):
    """A failure that fits no narrower class (onnxruntime's FAIL), e.g. a run stopped by RunOptions.terminate."""


class InvalidArgument(Error, ValueError):
    """Bad feeds or options: unknown or missing input names, wrong dtype, rank or fixed dimension."""


class NoSuchFile(Error):
    """A model (or external data) file that cannot be read."""


class NoModel(Error):
    """No model was loaded."""


class EngineError(Error):
    """An internal engine failure."""


class RuntimeException(Error):
    """A failure while running a valid model on valid inputs."""


class InvalidProtobuf(Error):
    """Model bytes that do not parse as an ONNX ModelProto."""


class ModelLoaded(Error):
    """The model is already loaded (kept for onnxruntime compatibility; Tessera never raises it)."""


class NotImplemented(Error):  # noqa: A001 - onnxruntime's name
    """A valid model that uses an operator, type or option Tessera does not support."""


class InvalidGraph(Error):
    """A malformed model graph."""


class EPFail(Error):
    """An execution provider failure."""


class InvalidModel(InvalidGraph, InvalidProtobuf):
    """Tessera does not tell a malformed protobuf from a malformed graph: both are an invalid model, so this
    class is both an InvalidGraph and an InvalidProtobuf."""


class OutOfMemory(RuntimeException):
    """An allocation was refused or would exceed Tessera's per-tensor limit."""


_tessera.set_error_classes({
    "INVALID_ARGUMENT": InvalidArgument,
    "INVALID_MODEL": InvalidModel,
    "UNSUPPORTED": NotImplemented,
    "RUNTIME_ERROR": RuntimeException,
    "IO_ERROR": NoSuchFile,
    "OUT_OF_MEMORY": OutOfMemory,
    "": Fail,
})
