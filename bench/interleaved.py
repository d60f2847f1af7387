"""Tessera against ONNX Runtime in one process, one run of each in turn: the one-thread ratio on a noisy machine.

side_by_side.py runs each runtime in fresh processes, round after round; on a shared VM whose speed moves between
phases over seconds, a round can land in a slow phase for one runtime only. Here both sessions live in one process
and run alternately, so every pair of runs shares the machine's state; the median of the per-pair ratios is the
figure to quote. At two or more threads the two intra-op pools share the cores in one process (ONNX Runtime's
workers do not spin here, Tessera's spin briefly after each of its runs), so use side_by_side.py there.

    /usr/bin/python3 bench/export_models.py     # once
    cmake --build build                           # Tessera's Python module in build/python
    /usr/bin/python3 bench/interleaved.py [--models resnet50,gpt2_small] [--threads 1] [--pairs 20] [--warmup 3]

Runs inside side_by_side.py's venv (--venv, default ~/.cache/tessera-bench-venv), with build/python on the path.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import side_by_side  # noqa: E402  (the venv, the inputs, ONNX Runtime's session options)


def load_feeds(manifest_dir, name, entry, scratch):
    import numpy as np

    feeds = {}
    for arg in side_by_side.input_files(manifest_dir, name, entry, 1, scratch):
        key, _, path = arg.partition("=")
        feeds[key] = np.load(path)
    return feeds


def interleave(model, feeds, threads, pairs, warmup):
    import onnxruntime as ort
    import tessera

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    ort_session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    tessera_options = tessera.SessionOptions()
    tessera_options.intra_op_num_threads = threads
    tessera_session = tessera.InferenceSession(model, tessera_options)
    for _ in range(warmup):
        tessera_session.run(None, feeds)
        ort_session.run(None, feeds)
    t_ms, o_ms = [], []
    for _ in range(pairs):
        start = time.perf_counter()
        tessera_session.run(None, feeds)
        middle = time.perf_counter()
        ort_session.run(None, feeds)
        end = time.perf_counter()
        t_ms.append((middle - start) * 1e3)
        o_ms.append((end - middle) * 1e3)
    return {
        "tessera_median_ms": statistics.median(t_ms),
        "tessera_min_ms": min(t_ms),
        "onnxruntime_median_ms": statistics.median(o_ms),
        "onnxruntime_min_ms": min(o_ms),
        "ratio_of_medians": statistics.median(t_ms) / statistics.median(o_ms),
        "median_pair_ratio": statistics.median(t / o for t, o in zip(t_ms, o_ms)),
        "onnxruntime_version": ort.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet50,mobilenet_v2,squeezenet1_1,bert_base,gpt2_small")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--pairs", type=int, default=20, help="runs of each runtime, alternating")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--models-dir", default=os.path.join(HERE, "models"))
    parser.add_argument("--venv", default=os.path.expanduser("~/.cache/tessera-bench-venv"))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if os.path.realpath(sys.prefix) != os.path.realpath(args.venv):
        python = side_by_side.ensure_venv(args.venv)
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    manifest_path = os.path.join(args.models_dir, "manifest.json")
    if not os.path.exists(manifest_path):
        sys.exit(f"no {manifest_path}: run /usr/bin/python3 bench/export_models.py first")
    manifest = json.load(open(manifest_path))
    cpu, _ = side_by_side.cpu_info()
    print(f"CPU: {cpu}")
    print(f"{'model':<15}{'thr':>4}{'T med ms':>11}{'T min':>9}{'ORT med':>10}{'ORT min':>9}{'T/ORT':>8}{'pair med':>10}")
    results = []
    for name in args.models.split(","):
        entry = manifest["models"][name]
        model = os.path.join(args.models_dir, entry["model"])
        feeds = load_feeds(args.models_dir, name, entry, os.path.join(args.models_dir, ".scratch"))
        for threads in (int(t) for t in args.threads.split(",")):
            r = interleave(model, feeds, threads, args.pairs, args.warmup)
            r.update(model=name, threads=threads, cpu=cpu)
            results.append(r)
            print(f"{name:<15}{threads:>4}{r['tessera_median_ms']:>11.3f}{r['tessera_min_ms']:>9.3f}"
                  f"{r['onnxruntime_median_ms']:>10.3f}{r['onnxruntime_min_ms']:>9.3f}{r['ratio_of_medians']:>8.3f}"
                  f"{r['median_pair_ratio']:>10.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
