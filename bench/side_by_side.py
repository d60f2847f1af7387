#!/usr/bin/python3
"""Side-by-side latency of Tessera, ONNX Runtime and OpenVINO on the exported benchmark models.

For each model, batch and thread count, the three runtimes run in interleaved rounds (round-robin, the
starting runtime rotating each round), each round in a fresh process that creates the session, warms up,
times N runs and reports its median. The table gives, per configuration, the median over rounds of the
per-round medians, the ratios Tessera/ONNX Runtime and Tessera/OpenVINO, and session creation and peak RSS.

    /usr/bin/python3 bench/export_models.py                       # once: models and inputs in bench/models/
    /usr/bin/python3 bench/side_by_side.py [--models mlp,resnet50] [--threads 1,2] [--batch 1,8] [--rounds 5]
                                           [--precision fp32|bf16]

--precision bf16 runs Tessera with `--precision bf16` (float32 MatMul/Gemm/Conv with constant weights on the
bf16 GEMM) and OpenVINO with INFERENCE_PRECISION_HINT bf16 (what it does by default on AVX512-BF16 / AMX CPUs);
ONNX Runtime's CPU provider has no such mode and runs float32 either way.

The peers come from PyPI (onnxruntime==1.31.1, openvino==2026.4.1, onnx==1.23.2 for the quantizers, numpy, matplotlib) in a venv outside the
repository (--venv, default ~/.cache/tessera-bench-venv), installed on first use; the script re-executes itself
there. Results: --out DIR (default bench/results/): side_by_side.json, .csv and .png. See docs/BENCHMARKS.md.
"""
import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REQUIREMENTS = ["onnxruntime==1.31.1", "openvino==2026.4.1", "onnx==1.23.2", "numpy", "matplotlib"]
STAMP = "tessera-bench-requirements.txt"
RUNTIMES = ("tessera", "onnxruntime", "openvino")
LABELS = {"tessera": "Tessera", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


# ------------------------------------------------------------------------------------------------------------
# The venv: created with Debian's python, outside the repository, installed once; the script re-runs inside it.

def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, STAMP)
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if os.path.exists(stamp) and open(stamp).read() == wanted and os.path.exists(python):
        return python
    if not os.path.exists(python):
        print(f"creating venv {venv}", flush=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
    print(f"installing {' '.join(REQUIREMENTS)} into {venv} (first run only)", flush=True)
    for attempt in range(3):
        result = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS])
        if result.returncode == 0:
            break
        print(f"pip install failed (attempt {attempt + 1})", file=sys.stderr)
        time.sleep(10 * (attempt + 1))
    else:
        sys.exit("cannot install the benchmark venv; see pip's messages above")
    with open(stamp, "w") as f:
        f.write(wanted)
    return python


def reexec_in_venv(venv):
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    python = ensure_venv(venv)
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


# ------------------------------------------------------------------------------------------------------------
# Workers: one fresh process per round (`side_by_side.py _worker RUNTIME ...`), printing one JSON object.

def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1.0


def timed_runs(run, warmup, iters):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def ort_session(model, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return lambda feeds: (lambda: session.run(None, feeds)), ort.__version__


def openvino_session(model, threads, feeds, precision):
    import openvino as ov

    core = ov.Core()
    network = core.read_model(model)
    # Static shapes of the fed inputs, as benchmark_app -shape does: the CPU plugin's fast path.
    network.reshape({name: list(value.shape) for name, value in feeds.items()})
    # Always named: left out, it silently runs bf16 on AVX512-BF16 / AMX CPUs.
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
              "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
    compiled = core.compile_model(network, "CPU", config)
    request = compiled.create_infer_request()
    return lambda feeds: (lambda: request.infer(feeds)), ov.get_version()


def worker(argv):
    parser = argparse.ArgumentParser(prog="side_by_side.py _worker")
    parser.add_argument("runtime", choices=["onnxruntime", "openvino"])
    parser.add_argument("model")
    parser.add_argument("--input", action="append", default=[], help="NAME=FILE.npy")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args(argv)
    import numpy as np

    feeds = {spec.split("=", 1)[0]: np.load(spec.split("=", 1)[1]) for spec in args.input}
    __import__(args.runtime)  # libraries loaded before the baseline, so it shows what the session itself costs
    rss_before = rss_now_mb()
    start = time.perf_counter()
    if args.runtime == "onnxruntime":
        make_run, version = ort_session(args.model, args.threads)
    else:
        make_run, version = openvino_session(args.model, args.threads, feeds, args.precision)
    create_ms = (time.perf_counter() - start) * 1000
    times = timed_runs(make_run(feeds), args.warmup, args.iters)
    print(json.dumps({"median_ms": statistics.median(times), "mean_ms": statistics.fmean(times),
                      "min_ms": min(times), "max_ms": max(times), "iters": len(times),
                      "session_create_ms": create_ms, "version": version, "rss_before_session_mb": rss_before,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


# ------------------------------------------------------------------------------------------------------------
# The driver.

def cpu_info():
    name, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return name, {flag: flag in flags for flag in ("avx512f", "avx2", "avx512_vnni", "avx512_bf16", "amx_tile")}


def input_files(manifest_dir, name, entry, batch, scratch):
    """NAME=FILE arguments for a model at a batch: the exported files, or files generated the same way."""
    from bench_inputs import input_file_name, make_input
    import numpy as np

    files = entry.get("files", {}).get(str(batch), {})
    args = []
    for spec in entry["inputs"]:
        if spec["name"] in files:
            path = os.path.join(manifest_dir, files[spec["name"]])
        else:
            os.makedirs(os.path.join(scratch, name), exist_ok=True)
            path = os.path.join(scratch, name, input_file_name(spec["name"], batch))
            if not os.path.exists(path):
                np.save(path, make_input(spec, batch))
        args.append(f"{spec['name']}={path}")
    return args


def run_round(runtime, model, inputs, threads, args):
    input_args = [a for spec in inputs for a in ("--input", spec)]
    common = ["--threads", str(threads), "--warmup", str(args.warmup), "--iters", str(args.iters)]
    # Callers whose options have no --precision (quantized_side_by_side.py) run float32 / the model's own types.
    precision = getattr(args, "precision", "fp32")
    if runtime == "tessera":
        command = [args.tessera, "bench", model, *input_args, *common, "--precision", precision, "--json"]
    else:
        command = [sys.executable, os.path.abspath(__file__), "_worker", runtime, model, *input_args, *common,
                   "--precision", precision]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    except OSError as e:
        return {"error": str(e)}
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip() and not line.startswith("usage")]
        return {"error": (lines[-1] if lines else f"exit code {result.returncode}")[:300]}
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"unreadable output: {result.stdout[-200:]!r}"}


def summarize(rounds):
    """Median over rounds of the per-round medians (and of session creation, peak RSS); the first error wins."""
    errors = [r["error"] for r in rounds if "error" in r]
    if errors:
        return {"error": errors[0]}
    summary = {key: statistics.median(r[key] for r in rounds) for key in ("median_ms", "session_create_ms", "peak_rss_mb")}
    summary["rounds"] = len(rounds)
    if "version" in rounds[0]:
        summary["version"] = rounds[0]["version"]
    return summary


def measure(config, args, runtimes):
    """Interleaved rounds for one (model, batch, threads): round k starts with runtime k mod 3."""
    rounds = {rt: [] for rt in runtimes}
    for k in range(args.rounds):
        order = runtimes[k % len(runtimes):] + runtimes[:k % len(runtimes)]
        for runtime in order:
            rounds[runtime].append(run_round(runtime, config["model"], config["inputs"], config["threads"], args))
        progress = "  ".join(f"{rt} {fmt_ms(rounds[rt][-1])}" for rt in runtimes)
        print(f"  {config['name']} b{config['batch']} t{config['threads']} round {k + 1}/{args.rounds}: {progress}",
              file=sys.stderr, flush=True)
    return {rt: summarize(rounds[rt]) for rt in runtimes}, rounds


def fmt_ms(result):
    return f"error: {result['error']}" if "error" in result else f"{result['median_ms']:.3f}"


def ratio(a, b):
    if "error" in a or "error" in b or not b.get("median_ms"):
        return None
    return a["median_ms"] / b["median_ms"]


def table_rows(results):
    rows = []
    for r in results:
        s = r["summary"]
        get = lambda rt, key: (None if rt not in s or "error" in s[rt] else s[rt][key])  # noqa: E731
        rows.append({
            "model": r["model"], "batch": r["batch"], "threads": r["threads"],
            **{f"{rt}_ms": (fmt_ms(s[rt]) if rt in s and "error" in s[rt] else get(rt, "median_ms")) for rt in RUNTIMES},
            "tessera/onnxruntime": ratio(s.get("tessera", {"error": "-"}), s.get("onnxruntime", {"error": "-"})),
            "tessera/openvino": ratio(s.get("tessera", {"error": "-"}), s.get("openvino", {"error": "-"})),
            "tessera_create_ms": get("tessera", "session_create_ms"),
            "onnxruntime_create_ms": get("onnxruntime", "session_create_ms"),
            "tessera_rss_mb": get("tessera", "peak_rss_mb"),
            "onnxruntime_rss_mb": get("onnxruntime", "peak_rss_mb"),
        })
    return rows


def print_table(rows):
    headers = ["model", "batch", "thr", "tessera ms", "ort ms", "openvino ms", "T/ORT", "T/OV",
               "T create ms", "ORT create ms", "T RSS MB", "ORT RSS MB"]
    keys = ["model", "batch", "threads", "tessera_ms", "onnxruntime_ms", "openvino_ms", "tessera/onnxruntime",
            "tessera/openvino", "tessera_create_ms", "onnxruntime_create_ms", "tessera_rss_mb", "onnxruntime_rss_mb"]

    def cell(value, key):
        if value is None:
            return "-"
        if not isinstance(value, float):
            return str(value)
        if "/" in key:
            return f"{value:.2f}"
        if key in ("tessera_ms", "onnxruntime_ms", "openvino_ms"):
            return f"{value:.3f}" if value < 1 else (f"{value:.2f}" if value < 100 else f"{value:.1f}")
        return f"{value:.1f}"

    table = [headers] + [[cell(row[k], k) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for n, line in enumerate(table):
        print("  ".join(text.ljust(w) if i == 0 or text.startswith("error") else text.rjust(w)
                        for i, (text, w) in enumerate(zip(line, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_chart(rows, path, cpu_name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\nb{r['batch']} t{r['threads']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows) + 2), 4.5))
    width = 0.27
    for i, rt in enumerate(RUNTIMES):
        # Latency relative to ONNX Runtime (1.0), so models of very different sizes share one axis.
        values = [(r[f"{rt}_ms"] / r["onnxruntime_ms"]) if isinstance(r[f"{rt}_ms"], float)
                  and isinstance(r["onnxruntime_ms"], float) else 0 for r in rows]
        ax.bar([x + (i - 1) * width for x in range(len(rows))], values, width, label=LABELS[rt])
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("median latency / ONNX Runtime's (lower is better)")
    ax.set_title(f"Side by side on {cpu_name}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(out, rows, results, meta, cpu_name):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "side_by_side.json"), "w") as f:
        json.dump({**meta, "table": rows, "results": results}, f, indent=2)
    with open(os.path.join(out, "side_by_side.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_chart(rows, os.path.join(out, "side_by_side.png"), cpu_name)
    print(f"wrote {out}/side_by_side.json, .csv and .png")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated names from the manifest (default: all)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default 1,8)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per runtime (default 5)")
    parser.add_argument("--iters", type=int, default=50, help="timed runs per round (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up runs per round (default 5)")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="subset of tessera,onnxruntime,openvino")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: Tessera --precision bf16 and OpenVINO's bf16 hint (ONNX Runtime stays float32)")
    parser.add_argument("--manifest", default=os.path.join(HERE, "models", "manifest.json"))
    parser.add_argument("--tessera", default=os.path.join(ROOT, "build", "bin", "tessera"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--timeout", type=int, default=900, help="seconds per round before it counts as an error")
    parser.add_argument("--venv", default=os.path.expanduser("~/.cache/tessera-bench-venv"))
    return parser.parse_args()


def configurations(args, manifest, manifest_dir, scratch):
    models = manifest["models"]
    wanted = args.models.split(",") if args.models else list(models)
    unknown = [m for m in wanted if m not in models]
    if unknown:
        sys.exit(f"not in {args.manifest}: {', '.join(unknown)} (export them with bench/export_models.py)")
    for name in wanted:
        for batch in [int(b) for b in args.batch.split(",")]:
            inputs = input_files(manifest_dir, name, models[name], batch, scratch)
            for threads in [int(t) for t in args.threads.split(",")]:
                yield {"name": name, "model": os.path.join(manifest_dir, models[name]["model"]), "batch": batch,
                       "threads": threads, "inputs": inputs}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        return worker(sys.argv[2:])
    args = parse_args()
    reexec_in_venv(args.venv)
    sys.path.insert(0, HERE)
    runtimes = [rt for rt in args.runtimes.split(",") if rt]
    if set(runtimes) - set(RUNTIMES) or not runtimes:
        sys.exit(f"--runtimes: choose from {', '.join(RUNTIMES)}")
    if not os.path.exists(args.manifest):
        sys.exit(f"{args.manifest} not found: run /usr/bin/python3 bench/export_models.py first")
    if "tessera" in runtimes and not os.access(args.tessera, os.X_OK):
        sys.exit(f"{args.tessera} not found: build with ./scripts/build.sh")
    with open(args.manifest) as f:
        manifest = json.load(f)
    cpu_name, flags = cpu_info()
    print(f"cpu: {cpu_name}  " + "  ".join(f"{k}: {'yes' if v else 'no'}" for k, v in flags.items()))
    print(f"rounds {args.rounds} x {args.iters} runs (after {args.warmup} warm-up), runtimes {', '.join(runtimes)}, "
          f"precision {args.precision}" + (" (ONNX Runtime float32)" if args.precision == "bf16" else ""), flush=True)
    results = []
    for config in configurations(args, manifest, os.path.dirname(os.path.abspath(args.manifest)),
                                 os.path.join(args.out, "inputs")):
        summary, rounds = measure(config, args, runtimes)
        results.append({"model": config["name"], "batch": config["batch"], "threads": config["threads"],
                        "summary": summary, "rounds": rounds})
    rows = table_rows(results)
    print()
    print_table(rows)
    versions = {rt: r["summary"][rt]["version"] for r in results for rt in runtimes if "version" in r["summary"][rt]}
    meta = {"cpu": cpu_name, "versions": versions, "cpu_flags": flags, "rounds": args.rounds, "iters": args.iters, "warmup": args.warmup,
            "runtimes": runtimes, "precision": args.precision, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_outputs(args.out, rows, results, meta, cpu_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
