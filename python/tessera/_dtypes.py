"""numpy dtype <-> ONNX element type numbers (TensorProto.DataType) at the Python boundary.

Types numpy lacks (bfloat16, float8, int4, ...) come from ml_dtypes when it is installed; they cross into the
compiled core as same-sized unsigned views, which is why each has a carrier type here."""

import numpy as np

try:
    import ml_dtypes
except ImportError:  # bfloat16 and friends are then unavailable
    ml_dtypes = None

STRING = 8

# ONNX element type for each numpy dtype numpy itself has.
_NATIVE = {
    np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
    np.dtype(np.int16): 5, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
    np.dtype(np.float16): 10, np.dtype(np.float64): 11, np.dtype(np.uint32): 12, np.dtype(np.uint64): 13,
    np.dtype(np.complex64): 14, np.dtype(np.complex128): 15,
}

# ONNX element type -> (ml_dtypes attribute name); carried as unsigned ints of the same size.
_ML_DTYPES = {16: "bfloat16", 17: "float8_e4m3fn", 18: "float8_e4m3fnuz", 19: "float8_e5m2",
              20: "float8_e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4_e2m1fn", 24: "float8_e8m0fnu",
              25: "uint2", 26: "int2"}

CODE_BY_DTYPE = dict(_NATIVE)
_EXOTIC_BY_CODE = {}  # code -> numpy dtype from ml_dtypes
_CARRIER = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16)}
if ml_dtypes is not None:
    for _code, _name in _ML_DTYPES.items():
        if hasattr(ml_dtypes, _name):
            _dtype = np.dtype(getattr(ml_dtypes, _name))
            CODE_BY_DTYPE[_dtype] = _code
            _EXOTIC_BY_CODE[_code] = _dtype


def feed_array(name, value):
    """Returns (array, ONNX element type) to hand the compiled core for feed `name`."""
    if type(value) is not np.ndarray:
        value = np.asarray(value)
    dtype = value.dtype
    code = CODE_BY_DTYPE.get(dtype)
    if code is not None:
        exotic = _EXOTIC_BY_CODE.get(code)
        if exotic is not None:
            return value.view(_CARRIER[dtype.itemsize]), code
        return value, code
    if dtype.kind in "OUS":
        return value, STRING
    from ._errors import InvalidArgument
    raise InvalidArgument(f"input '{name}': numpy dtype {dtype} has no ONNX element type")


# The dtype code that marks a map feed for the compiled core (see feed_map).
MAP_FEED = -1

# numpy dtype for each element type a map's keys or values may have, by the name onnxruntime's types use.
_MAP_ELEMENT = {"int64": (np.dtype(np.int64), 7), "string": (np.dtype(object), STRING),
                "float": (np.dtype(np.float32), 1), "double": (np.dtype(np.float64), 11)}


def _map_types(declared):
    """(key type, value type) names from "map(string,tensor(float))", or None for any other type."""
    if not declared or not declared.startswith("map(") or not declared.endswith("))"):
        return None
    key, _, value = declared[4:-1].partition(",")
    if not (value.startswith("tensor(") and value.endswith(")")):
        return None
    return key, value[7:-1]


def feed_map(name, value, declared):
    """The (keys, key type, values, value type) tuple the compiled core reads a dict feed from, with keys and
    values converted to the types the model declares for input `name` (`declared`: its NodeArg type)."""
    from ._errors import InvalidArgument
    types = _map_types(declared)
    if types is None or types[0] not in _MAP_ELEMENT or types[1] not in _MAP_ELEMENT:
        raise InvalidArgument(f"input '{name}' is {declared or 'not an input of the model'}; a dict feeds only "
                              "map(int64|string, tensor(float|double|int64|string)) inputs")
    (key_dtype, key_code), (value_dtype, value_code) = _MAP_ELEMENT[types[0]], _MAP_ELEMENT[types[1]]
    try:
        keys = np.array(list(value.keys()), dtype=key_dtype)
        values = np.array(list(value.values()), dtype=value_dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidArgument(f"input '{name}' ({declared}): the dict's keys or values do not convert: "
                              f"{error}") from error
    bad_key = key_code == STRING and any(not isinstance(k, str) for k in value)
    bad_value = value_code == STRING and any(not isinstance(v, str) for v in value.values())
    if bad_key or bad_value:
        raise InvalidArgument(f"input '{name}' ({declared}): the dict's {'keys' if bad_key else 'values'} must be "
                              "str")
    return keys, key_code, values, value_code


def output_value(value):
    """Turns what the compiled core returned for one output into numpy (see numpy_conversion.h)."""
    if type(value) is tuple:
        kind = value[0]
        if kind == "strings":
            return np.array(value[2], dtype=object).reshape(value[1])
        exotic = _EXOTIC_BY_CODE.get(value[1])
        return value[2].view(exotic) if exotic is not None else value[2]
    if type(value) is list:
        if value and type(value[0]) is dict:  # a sequence of maps: dicts need no conversion
            return value
        return [output_value(v) for v in value]
    return value
