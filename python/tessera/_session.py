"""InferenceSession: onnxruntime's Python session API over Tessera's compiled core."""

import datetime
import os
import warnings

from . import _tessera
from ._dtypes import MAP_FEED, feed_array, feed_map, output_value
from ._errors import Fail
from ._options import SessionOptions

CPU_PROVIDER = "CPUExecutionProvider"


def get_available_providers():
    """The execution providers this build can run: ["CPUExecutionProvider"]."""
    return [CPU_PROVIDER]


def get_device():
    """The device this build runs on, as onnxruntime names it: "CPU"."""
    return "CPU"


class NodeArg:
    """A model input or output: `name`, `type` ("tensor(float)", ...) and `shape` (ints for known dims, strings
    for symbolic ones, None for unknown ones)."""

    __slots__ = ("name", "type", "shape")

    def __init__(self, name, type, shape):  # noqa: A002 - onnxruntime's attribute name
        self.name = name
        self.type = type
        self.shape = shape

    def __repr__(self):
        return f"NodeArg(name='{self.name}', type='{self.type}', shape={self.shape})"


class ModelMetadata:
    """Model-level metadata, as onnxruntime's get_modelmeta() returns it."""

    def __init__(self, values):
        self.producer_name = values["producer_name"]
        self.graph_name = values["graph_name"]
        self.domain = values["domain"]
        self.description = values["description"]
        self.graph_description = values["graph_description"]
        self.version = values["version"]
        self.custom_metadata_map = dict(values["custom_metadata_map"])


def _provider_names(providers):
    """Provider names from onnxruntime's `providers` argument (names or (name, options) pairs)."""
    names = []
    for entry in providers or [CPU_PROVIDER]:
        name = entry[0] if isinstance(entry, (tuple, list)) else entry
        if name not in get_available_providers():
            warnings.warn(f"Specified provider '{name}' is not in available provider names. "
                          f"Available providers: '{', '.join(get_available_providers())}'")
            continue
        names.append(name)
    return names or [CPU_PROVIDER]


class InferenceSession:
    """Loads an ONNX model (a path or serialized bytes) once and runs it many times; `run` may be called from
    several threads at once (the GIL is released while the model runs)."""

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            source = bytes(path_or_bytes)
            self._model_path = None
            self._model_bytes = source
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            source = os.fspath(path_or_bytes)
            self._model_path = source
            self._model_bytes = None
        else:
            raise TypeError(f"Unable to load from type '{type(path_or_bytes)}'")
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        self._providers = _provider_names(providers)
        self._native = _tessera.NativeSession(source, self._sess_options._native_options())
        self._inputs = [NodeArg(*entry) for entry in self._native.inputs()]
        self._outputs = [NodeArg(*entry) for entry in self._native.outputs()]
        self._overridable = [NodeArg(*entry) for entry in self._native.overridable_initializers()]
        self._output_names = [o.name for o in self._outputs]

    def get_inputs(self):
        """The inputs a caller must feed (initializer-backed inputs are in get_overridable_initializers)."""
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_overridable_initializers(self):
        """Inputs that have an initializer as default value: feeding them is optional."""
        return list(self._overridable)

    def get_modelmeta(self):
        return ModelMetadata(self._native.metadata())

    def get_providers(self):
        return list(self._providers)

    def get_provider_options(self):
        return {name: {} for name in self._providers}

    def set_providers(self, providers=None, provider_options=None):
        """Changes nothing but the reported provider list: Tessera has only the CPU provider."""
        self._providers = _provider_names(providers)

    def get_session_options(self):
        return self._sess_options

    def run(self, output_names, input_feed, run_options=None):
        """Runs the model. `output_names` None or empty: every output, in model order. `input_feed` maps input
        names to numpy arrays (C-contiguous ones are read in place), or to dicts for map inputs. Returns a list of
        numpy arrays (lists for sequence outputs, dicts for maps, lists of dicts for sequences of maps, None
        for empty optionals)."""
        names = []
        arrays = []
        dtypes = []
        declared = {arg.name: arg.type for arg in self._inputs + self._overridable}
        for name, value in input_feed.items():
            if isinstance(value, dict):
                array, code = feed_map(name, value, declared.get(name)), MAP_FEED
            else:
                array, code = feed_array(name, value)
            names.append(name)
            arrays.append(array)
            dtypes.append(code)
        flag = None
        timeout_ms = 0
        if run_options is not None:
            if run_options.terminate:
                raise Fail("Exiting due to terminate flag being set to true.")
            flag = run_options._flag
            timeout_ms = int(getattr(run_options, "timeout_ms", 0) or 0)
        try:
            results = self._native.run(names, arrays, dtypes, list(output_names or ()), flag, timeout_ms)
        except Exception as error:
            _reraise_terminated(error, run_options)
            raise
        return [output_value(r) for r in results]

    def end_profiling(self):
        """Writes the profile collected since creation (Chrome-trace JSON, one event per node run and per run)
        to "<profile_file_prefix>_<date>_<time>.json" in the working folder, stops profiling and returns the
        file name. Returns "" when profiling was not enabled."""
        if not self._native.profiling_enabled:
            return ""
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        path = f"{self._sess_options.profile_file_prefix}_{stamp}.json"
        self._native.end_profiling(path)
        return path


def _reraise_terminated(error, run_options):
    """A run that failed while its RunOptions.terminate was set was stopped by it: raise Fail, as onnxruntime
    does, instead of the runtime error the stopped run reports."""
    if run_options is not None and run_options.terminate:
        raise Fail(f"Exiting due to terminate flag being set to true. ({error})") from error
