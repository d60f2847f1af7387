#!/usr/bin/env python3
"""Determinism across intra-op thread counts: runs every OUT/<name>/model.onnx with `tessera run` at 1 and at 2
threads on its first test data set and requires the outputs to be identical byte for byte. Tessera's kernels
split work over the threads by output elements only (GEMM by rows or columns of C, convolutions by channels or
tiles, reductions per output), so every element is summed in the same order whatever the thread count.

    python3 tests/models/check_thread_determinism.py TESSERA_BINARY OUT
"""
import glob
import os
import subprocess
import sys
import tempfile


def run(binary: str, model: str, inputs: str, threads: int, out_dir: str) -> None:
    subprocess.run([binary, "run", model, "--input-dir", inputs, "--threads", str(threads), "--output-dir", out_dir],
                   check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    binary, root = sys.argv[1], sys.argv[2]
    models = sorted(glob.glob(os.path.join(root, "*", "model.onnx")))
    if not models:
        print(f"no models under {root}")
        return 1
    failures = 0
    for model in models:
        name = os.path.basename(os.path.dirname(model))
        inputs = os.path.join(os.path.dirname(model), "test_data_set_0")
        with tempfile.TemporaryDirectory() as tmp:
            one, two = os.path.join(tmp, "t1"), os.path.join(tmp, "t2")
            run(binary, model, inputs, 1, one)
            run(binary, model, inputs, 2, two)
            files = sorted(os.listdir(one))
            same = files == sorted(os.listdir(two)) and files and all(
                open(os.path.join(one, f), "rb").read() == open(os.path.join(two, f), "rb").read() for f in files)
        print(f"{name}: {len(files)} output(s) {'identical' if same else 'DIFFER'} at 1 and 2 threads")
        failures += 0 if same else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
