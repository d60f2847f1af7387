"""Python-side cost of a run, for tessera's Python module and onnxruntime's, measured in one process.

Part 1 (overhead): a tiny model (one Add on float[1,16]) with one intra-op thread, so a run is almost all
binding overhead. Interleaved rounds time `session.run` from Python (wall time per call) for both backends and
Session::run from C++ (`tessera bench` mean on the same model): tessera's Python overhead is the difference of
its two figures. onnxruntime's C++ time is not measured here (its wheel ships no C/C++ benchmark tool), so its
Python figure bounds its overhead from above; its profiler is no help at this scale (profiling a run costs
more than the run).

Part 2 (threads): runs per second with 1, 2 and 4 Python threads sharing one session (one intra-op thread
each) on a small MLP (float[8,256] through two 256x256 MatMul+Tanh), for both backends.

Run:  PYTHONPATH=build/python .venv/bin/python bench/python_overhead.py [--rounds 5] [--runs 20000]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

import tessera

BACKENDS = {"tessera": tessera, "onnxruntime": onnxruntime}


def tiny_model():
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def mlp_model():
    rng = np.random.default_rng(0)
    nodes, inits, last = [], [], "x"
    for i in range(2):
        w = numpy_helper.from_array((rng.standard_normal((256, 256)) / 16).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [helper.make_node("MatMul", [last, f"w{i}"], [f"m{i}"]), helper.make_node("Tanh", [f"m{i}"], [f"t{i}"])]
        last = f"t{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 256])],
                              [helper.make_tensor_value_info(last, TensorProto.FLOAT, [8, 256])], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def session_for(backend, model):
    options = backend.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return backend.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def wall_us_per_run(session, feeds, runs):
    for _ in range(200):
        session.run(None, feeds)
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, feeds)
    return (time.perf_counter() - start) / runs * 1e6


def tessera_cpp_us(model_path, runs):
    cli = os.path.join(os.path.dirname(__file__), "..", "build", "bin", "tessera")
    out = subprocess.run([cli, "bench", model_path, "--threads", "1", "--iters", str(runs), "--warmup", "200", "--json"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return report["mean_ms"] * 1000, report["median_ms"] * 1000


def cpu_name():
    with open("/proc/cpuinfo") as f:
        match = re.search(r"model name\s*:\s*(.*)", f.read())
    return match.group(1) if match else "unknown"


def overhead(args):
    model = tiny_model()
    feeds = {"x": np.ones((1, 16), np.float32)}
    wall = {name: [] for name in BACKENDS}
    cpp = []
    with tempfile.TemporaryDirectory() as folder:
        model_path = os.path.join(folder, "tiny.onnx")
        with open(model_path, "wb") as f:
            f.write(model)
        for _ in range(args.rounds):
            for name, backend in BACKENDS.items():
                wall[name].append(wall_us_per_run(session_for(backend, model), feeds, args.runs))
            cpp.append(tessera_cpp_us(model_path, args.runs)[0])
    print(f"CPU: {cpu_name()}; tiny model Add float[1,16], 1 intra-op thread; medians of {args.rounds} rounds")
    print(f"  tessera C++ API (tessera bench mean):        {statistics.median(cpp):7.2f} us/run")
    for name in BACKENDS:
        print(f"  {name:11s} Python session.run:            {statistics.median(wall[name]):7.2f} us/run")
    print(f"  tessera Python overhead (Python - C++):      "
          f"{statistics.median(wall['tessera']) - statistics.median(cpp):7.2f} us/run")


def throughput(backend, model, feeds, threads, seconds):
    session = session_for(backend, model)
    session.run(None, feeds)
    counts = [0] * threads
    stop = threading.Event()

    def worker(k):
        while not stop.is_set():
            session.run(None, feeds)
            counts[k] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    return sum(counts) / seconds


def threads(args):
    model = mlp_model()
    feeds = {"x": np.random.default_rng(1).standard_normal((8, 256)).astype(np.float32)}
    results = {(name, n): [] for name in BACKENDS for n in (1, 2, 4)}
    for _ in range(args.rounds):
        for n in (1, 2, 4):
            for name, backend in BACKENDS.items():
                results[(name, n)].append(throughput(backend, model, feeds, n, args.seconds))
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); MLP float[8,256] x 2 (MatMul 256x256 + Tanh), "
          f"1 intra-op thread; runs/s, medians of {args.rounds} rounds of {args.seconds} s")
    for name in BACKENDS:
        base = statistics.median(results[(name, 1)])
        row = ", ".join(f"{n} threads {statistics.median(results[(name, n)]):8.0f} "
                        f"({statistics.median(results[(name, n)]) / base:4.2f}x)" for n in (1, 2, 4))
        print(f"  {name:11s} {row}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--only", choices=["overhead", "threads"])
    args = parser.parse_args()
    if args.only != "threads":
        overhead(args)
    if args.only != "overhead":
        threads(args)


if __name__ == "__main__":
    sys.exit(main())
