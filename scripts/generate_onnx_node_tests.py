#!/usr/bin/env python3
"""Writes the node test cases of the installed onnx package (onnx==1.23.2) in ONNX's backend test folder format.

The onnx wheel does not ship its node test data; it builds the cases in memory
(onnx.backend.test.loader.load_model_tests(kind="node")). This script writes each case the way
onnx/backend/test/cmd_tools.py does:

    OUT/node/<name>/model.onnx
    OUT/node/<name>/test_data_set_N/input_K.pb, output_K.pb   (TensorProto, SequenceProto or OptionalProto)
    OUT/node/<name>/data.json                                 (only when rtol/atol differ from 1e-3/1e-7)

Map-typed cases are skipped with a note. Run it with the venv's python (scripts/install-deps.sh makes it):

    .venv/bin/python scripts/generate_onnx_node_tests.py OUT [--force]

Idempotent: the cases are written to a fresh folder that then replaces OUT/node, and a stamp records the onnx
version and this script's hash, so a second run with nothing changed returns at once (--force rewrites anyway).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import warnings

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7
STAMP = ".generated"


def stamp_text() -> str:
    import numpy
    import onnx

    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return f"onnx {onnx.__version__} numpy {numpy.__version__}\nscript {digest}\n"


def serialize(value, type_proto, name: str) -> bytes:
    """Serializes one input or output value like cmd_tools.generate_data."""
    from onnx import TensorProto, numpy_helper

    if type_proto.HasField("sequence_type"):
        return numpy_helper.from_list(value, name).SerializeToString()
    if type_proto.HasField("optional_type"):
        return numpy_helper.from_optional(value, name).SerializeToString()
    assert type_proto.HasField("tensor_type"), f"unexpected type for {name}"
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def has_map(case) -> bool:
    graph = case.model.graph
    return any(v.type.HasField("map_type") for v in list(graph.input) + list(graph.output))


def write_case(case, case_dir: str) -> None:
    os.makedirs(case_dir)
    graph = case.model.graph
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        set_dir = os.path.join(case_dir, f"test_data_set_{i}")
        os.makedirs(set_dir)
        for kind, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, value in enumerate(values):
                with open(os.path.join(set_dir, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(serialize(value, infos[j].type, infos[j].name))
    if case.rtol != DEFAULT_RTOL or case.atol != DEFAULT_ATOL:
        with open(os.path.join(case_dir, "data.json"), "w") as f:
            json.dump({"rtol": case.rtol, "atol": case.atol}, f, sort_keys=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="folder to write; the cases go to OUTPUT/node/<name>")
    parser.add_argument("--force", action="store_true", help="rewrite even when the stamp says the data is current")
    args = parser.parse_args()

    try:
        import onnx  # noqa: F401
        from onnx.backend.test import loader
    except ImportError as e:
        print(f"error: cannot import onnx ({e}); run scripts/install-deps.sh and use .venv/bin/python", file=sys.stderr)
        return 2

    node_dir = os.path.join(args.output, "node")
    stamp_path = os.path.join(node_dir, STAMP)
    stamp = stamp_text()
    if not args.force and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if f.read() == stamp:
                count = sum(1 for e in os.scandir(node_dir) if e.is_dir())
                print(f"{node_dir}: {count} node tests already current (onnx {onnx.__version__})")
                return 0

    # Building the cases runs numpy reference code that warns about overflow, division by zero, etc. on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import numpy as np

        # Many cases draw their inputs from np.random; a fixed seed makes the written data reproducible.
        np.random.seed(0)
        with np.errstate(all="ignore"):
            cases = loader.load_model_tests(kind="node")

    os.makedirs(args.output, exist_ok=True)
    staging = node_dir + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    written = 0
    skipped = []
    for case in sorted(cases, key=lambda c: c.name):
        if has_map(case):
            skipped.append(case.name)
            print(f"note: skipping {case.name}: map-typed inputs or outputs are not written")
            continue
        write_case(case, os.path.join(staging, case.name))
        written += 1
    with open(os.path.join(staging, STAMP), "w") as f:
        f.write(stamp)
    shutil.rmtree(node_dir, ignore_errors=True)
    os.rename(staging, node_dir)
    print(f"{node_dir}: wrote {written} node tests (onnx {onnx.__version__}), skipped {len(skipped)} map-typed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
