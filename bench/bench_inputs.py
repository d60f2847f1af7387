"""Benchmark inputs, made the same way by bench/export_models.py (Debian's python, numpy 1.x) and by
bench/side_by_side.py (its own venv, numpy 2.x) for batch sizes the export did not write.

Only numpy's Generator API is used (stable across numpy 1.17+ and 2.x), so both produce the same bits.
"""
import numpy as np

SEED = 1234


def make_input(spec, batch, seed=SEED):
    """One input array for `spec` ({"name", "dtype", "shape" with "batch" for the batch axis, optional "high"}).

    Floats: standard normal (images) or uniform in [-1, 1] when spec says "uniform". Integers: ones when the
    name contains "mask"; otherwise uniform in [0, high) (token ids: high = vocabulary size).
    """
    shape = [batch if d == "batch" else int(d) for d in spec["shape"]]
    # One stream per (input, batch), so adding an input or a batch size does not change the others' data.
    rng = np.random.default_rng([seed, batch, sum(map(ord, spec["name"]))])
    dtype = np.dtype(spec["dtype"])
    if np.issubdtype(dtype, np.floating):
        if spec.get("distribution") == "uniform":
            return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        return rng.standard_normal(size=shape).astype(dtype)
    if "mask" in spec["name"].lower():
        return np.ones(shape, dtype=dtype)
    return rng.integers(0, int(spec.get("high", 4)), size=shape).astype(dtype)


def input_file_name(input_name, batch):
    """File name of an input's .npy: NAME.npy for batch 1, NAME_b8.npy for batch 8."""
    return f"{input_name}.npy" if batch == 1 else f"{input_name}_b{batch}.npy"
