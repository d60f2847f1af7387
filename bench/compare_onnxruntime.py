"""Side-by-side latency of Tessera and ONNX Runtime (CPU provider) on the same model, inputs and threads.

Rounds alternate between the two runtimes (interleaved, so machine noise hits both alike). Each Tessera
round is one `tessera run --repeat N` process (its reported median, session creation excluded); each ONNX
Runtime round runs N inferences on one session. Prints both medians over rounds and the ratio.

Run with the project's venv:  .venv/bin/python bench/compare_onnxruntime.py MODEL.onnx [--threads 1]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8,
               "tensor(int8)": np.int8, "tensor(float16)": np.float16}


def make_inputs(session, batch, seed=1234):
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in session.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in info.shape]
        dtype = NUMPY_TYPES[info.type]
        if np.issubdtype(dtype, np.floating):
            feeds[info.name] = rng.uniform(-1, 1, size=shape).astype(dtype)
        else:
            feeds[info.name] = rng.integers(0, 4, size=shape).astype(dtype)
    return feeds


def tessera_round(cli, model, input_args, threads, repeat):
    out = subprocess.run([cli, "run", model, *input_args, "--threads", str(threads), "--repeat", str(repeat), "--quiet"],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median of \d+ run\(s\) ([0-9.]+) ms", out).group(1))


def ort_round(session, feeds, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20, help="inferences per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1, help="value for symbolic dims")
    parser.add_argument("--cli", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "tessera"))
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    feeds = make_inputs(session, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        input_args = []
        for name, value in feeds.items():
            path = os.path.join(tmp, f"{len(input_args)}.npy")
            np.save(path, value)
            input_args += ["--input", f"{name}={path}"]
        session.run(None, feeds)  # warm up
        tessera_times, ort_times = [], []
        for _ in range(args.rounds):
            tessera_times.append(tessera_round(args.cli, args.model, input_args, args.threads, args.repeat))
            ort_times.append(ort_round(session, feeds, args.repeat))
    t, o = statistics.median(tessera_times), statistics.median(ort_times)
    print(f"model {os.path.basename(args.model)} threads {args.threads} rounds {args.rounds} x {args.repeat}")
    print(f"tessera median {t:.3f} ms   onnxruntime {ort.__version__} median {o:.3f} ms   "
          f"ratio tessera/onnxruntime {t / o:.2f}")


if __name__ == "__main__":
    sys.exit(main())
