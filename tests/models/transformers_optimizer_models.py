#!/usr/bin/env python3
"""Models as ONNX Runtime's transformer optimizer writes them: a small BERT-like encoder and GPT-2-like decoder are
exported with Debian's torch (export_small_transformers.py), optimized with
onnxruntime.transformers.optimizer.optimize_model (model_type bert / gpt2, opt_level 0), checked to carry the
fused contrib ops, and written with ONNX Runtime's outputs as backend-test folders DEST/<name>/ that
`tessera conformance DEST` runs (rtol 1e-4, atol 1e-4): Tessera on the optimizer's model must give ONNX Runtime's
outputs. The BERT data sets pad some sequences (attention_mask zeros) and use shapes other than the export's.
The GPT-2 export's attention (an additive causal-bias buffer, not Hugging Face's masked_fill pattern) is not one
the optimizer fuses into Attention; its SkipLayerNormalization and FastGelu are still checked.

    .venv/bin/python tests/models/transformers_optimizer_models.py DEST
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
from onnxruntime.transformers.optimizer import optimize_model

from contrib_op_models import write_data_set

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = {
    "bert": {"Attention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu"},
    "gpt2": {"SkipLayerNormalization", "FastGelu"},
}


def data_sets(name: str, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    sets = []
    for batch, seq in ((2, 16), (3, 9)):
        feeds = {"input_ids": rng.integers(0, 100, (batch, seq)).astype(np.int64)}
        if name == "bert":
            mask = np.ones((batch, seq), np.int64)
            mask[1, seq - 4:] = 0  # padded at the end
            feeds["attention_mask"] = mask
        sets.append(feeds)
    return sets


def write_case(dest: str, name: str, optimized, rng: np.random.Generator) -> None:
    out_dir = os.path.join(dest, name)
    os.makedirs(out_dir)
    # save_model_to_file is how users save it: it also adds the com.microsoft opset import the nodes need
    optimized.save_model_to_file(os.path.join(out_dir, "model.onnx"))
    model = onnx.load(os.path.join(out_dir, "model.onnx"))
    contrib = {n.op_type for n in model.graph.node if n.domain == "com.microsoft"}
    missing = EXPECTED[name] - contrib
    if missing:
        raise SystemExit(f"{name}: the optimizer did not write {sorted(missing)} (it wrote {sorted(contrib)})")
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for k, feeds in enumerate(data_sets(name, rng)):
        ordered = {n: feeds[n] for n in names}
        write_data_set(os.path.join(out_dir, f"test_data_set_{k}"), ordered, session.run(None, ordered))
    with open(os.path.join(out_dir, "data.json"), "w") as f:
        json.dump({"rtol": 1e-4, "atol": 1e-4}, f)
    print(f"{name}: contrib ops {sorted(contrib)}; {len(model.graph.node)} nodes")


def main() -> int:
    dest = sys.argv[1]
    shutil.rmtree(dest, ignore_errors=True)
    exports = os.path.join(dest, "exports")
    os.makedirs(exports)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "export_small_transformers.py"), exports], check=True)
    logging.disable(logging.WARNING)
    rng = np.random.default_rng(7)
    for name in ("bert", "gpt2"):
        optimized = optimize_model(os.path.join(exports, f"{name}.onnx"), model_type=name, num_heads=4, hidden_size=64,
                                   opt_level=0)
        write_case(dest, name, optimized, rng)
    shutil.rmtree(exports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
