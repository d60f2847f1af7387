#!/usr/bin/python3
"""INT8 side by side: Tessera's and ONNX Runtime's quantizers and runtimes on the benchmark models, with each
quantized model's accuracy drop against the float model.

For each model: bert_base, lstm_speech and gru_speech are quantized dynamically (`tessera quantize` and
onnxruntime's quantize_dynamic, int8 weights; quantize_dynamic leaves GRU float, Tessera's GRU reads int8 weights
through DequantizeLinear, which ONNX Runtime runs as a float GRU), resnet50 and mobilenet_v2 statically (QDQ, per-channel int8 weights, int8 activations; `tessera quantize
--mode static` and onnxruntime's quantize_static, both calibrated on the same 8 seeded random inputs). Then, per
thread count, interleaved rounds (a fresh process each) time Tessera on the float model, on its own INT8 model and
on onnxruntime's, and ONNX Runtime on the float model, on its own INT8 model and on Tessera's. Accuracy: relative
L2 of the output against the float model and top-1 agreement, on 4 held-out seeded inputs (random weights and
inputs: the top-1 agreement only shows that the quantized model ranks like the float one).

    /usr/bin/python3 bench/export_models.py --models resnet50,mobilenet_v2,bert_base   # once (and lstm_speech,
                                                                                          # gru_speech)
    /usr/bin/python3 bench/quantized_side_by_side.py [--models bert_base] [--threads 1,2] [--rounds 3] [--iters 20]
        [--reduce-range]   # 7-bit weights for both (exact vpmaddubsw tiles on CPUs without VNNI)

Runs inside the benchmark venv of side_by_side.py (onnxruntime==1.31.1 there). Results: --out DIR
(default bench/results-int8/): int8_side_by_side.json. See docs/QUANTIZATION.md.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import side_by_side  # noqa: E402

STATIC = {"resnet50", "mobilenet_v2"}
DYNAMIC = {"bert_base", "lstm_speech", "gru_speech"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="bert_base,resnet50,mobilenet_v2")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--manifest", default=os.path.join(HERE, "models", "manifest.json"))
    parser.add_argument("--tessera", default=os.path.join(ROOT, "build", "bin", "tessera"))
    parser.add_argument("--out", default=os.path.join(HERE, "results-int8"))
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--venv", default=os.path.expanduser("~/.cache/tessera-bench-venv"))
    parser.add_argument("--reduce-range", action="store_true",
                        help="weights in 7 bits for both runtimes (tessera quantize --reduce-range, onnxruntime's "
                             "reduce_range=True): exact vpmaddubsw products on CPUs without VNNI")
    return parser.parse_args()


def random_images(seed, count, shape):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]


def quantize_both(name, model, entry, work, tessera, reduce_range=False):
    """The two INT8 models of `model`: (Tessera's, onnxruntime's)."""
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    ours, theirs = os.path.join(work, "tessera-int8.onnx"), os.path.join(work, "onnxruntime-int8.onnx")
    if name in DYNAMIC:
        subprocess.run([tessera, "quantize", model, ours] + (["--reduce-range"] if reduce_range else []), check=True,
                       stdout=subprocess.DEVNULL)
        quantize_dynamic(model, theirs, weight_type=QuantType.QInt8, reduce_range=reduce_range)
        return ours, theirs
    input_name = entry["inputs"][0]["name"]
    calibration = random_images(0, 8, (1, 3, 224, 224))
    calibration_dir = os.path.join(work, "calibration")
    for i, x in enumerate(calibration):
        os.makedirs(os.path.join(calibration_dir, f"sample_{i}"), exist_ok=True)
        np.save(os.path.join(calibration_dir, f"sample_{i}", input_name + ".npy"), x)
    subprocess.run([tessera, "quantize", model, ours, "--mode", "static", "--per-channel", "--calibrate",
                    calibration_dir] + (["--reduce-range"] if reduce_range else []), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{input_name: x} for x in calibration])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(model, theirs, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range)
    return ours, theirs


def accuracy(name, model, quantized, runtime, entry, inputs, work, tessera):
    """(relative L2 of the output vs float, top-1 agreement) of `quantized` run by `runtime`."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    def ort_run(path, feeds):
        return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)[0]

    def tessera_run(path, files):
        out = os.path.join(work, "out")
        args = [tessera, "run", path, "--output-dir", out]
        for spec in files:
            args += ["--input", spec]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        proto = onnx.TensorProto()
        with open(os.path.join(out, "output_0.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        return numpy_helper.to_array(proto)

    if name in DYNAMIC:
        samples = [inputs]  # the benchmark inputs
    else:
        samples = []
        for i, x in enumerate(random_images(1, 4, (1, 3, 224, 224))):
            path = os.path.join(work, f"validation_{i}.npy")
            np.save(path, x)
            samples.append([f"{entry['inputs'][0]['name']}={path}"])
    errors, agree, rows = [], 0, 0
    for files in samples:
        feeds = {spec.split("=", 1)[0]: np.load(spec.split("=", 1)[1]) for spec in files}
        want = ort_run(model, feeds)
        got = tessera_run(quantized, files) if runtime == "tessera" else ort_run(quantized, feeds)
        errors.append(float(np.linalg.norm(got - want) / np.linalg.norm(want)))
        a, b = want.reshape(-1, want.shape[-1]).argmax(-1), got.reshape(-1, got.shape[-1]).argmax(-1)
        agree += int((a == b).sum())
        rows += a.size
    return {"relative_l2": sum(errors) / len(errors), "top1_agreement": agree / rows}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        return side_by_side.worker(sys.argv[2:])
    args = parse_args()
    if os.path.realpath(sys.prefix) != os.path.realpath(args.venv):
        python = side_by_side.ensure_venv(args.venv)
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    with open(args.manifest) as f:
        manifest = json.load(f)
    manifest_dir = os.path.dirname(os.path.abspath(args.manifest))
    cpu_name, flags = side_by_side.cpu_info()
    print(f"cpu: {cpu_name}  " + "  ".join(f"{k}: {'yes' if v else 'no'}" for k, v in flags.items()), flush=True)
    results = []
    for name in args.models.split(","):
        entry = manifest["models"][name]
        model = os.path.join(manifest_dir, entry["model"])
        work = os.path.join(args.out, name)
        os.makedirs(work, exist_ok=True)
        inputs = side_by_side.input_files(manifest_dir, name, entry, 1, os.path.join(args.out, "inputs"))
        ours, theirs = quantize_both(name, model, entry, work, args.tessera, args.reduce_range)
        drops = {"tessera": accuracy(name, model, ours, "tessera", entry, inputs, work, args.tessera),
                 "onnxruntime": accuracy(name, model, theirs, "onnxruntime", entry, inputs, work, args.tessera)}
        print(f"{name}: accuracy vs float: Tessera (own INT8 model) {drops['tessera']}, ONNX Runtime (own INT8 "
              f"model) {drops['onnxruntime']}", flush=True)
        runs = [("tessera", "fp32", model), ("tessera", "int8-tessera", ours), ("tessera", "int8-onnxruntime", theirs),
                ("onnxruntime", "fp32", model), ("onnxruntime", "int8-onnxruntime", theirs),
                ("onnxruntime", "int8-tessera", ours)]
        for threads in [int(t) for t in args.threads.split(",")]:
            rounds = {(rt, tag): [] for rt, tag, _ in runs}
            for k in range(args.rounds):
                order = runs[k % len(runs):] + runs[:k % len(runs)]
                for rt, tag, path in order:
                    rounds[(rt, tag)].append(side_by_side.run_round(rt, path, inputs, threads, args))
            summary = {f"{rt}/{tag}": side_by_side.summarize(r) for (rt, tag), r in rounds.items()}
            line = "  ".join(f"{key} {side_by_side.fmt_ms(s)}" for key, s in summary.items())
            print(f"{name} t{threads}: {line}", flush=True)
            results.append({"model": name, "threads": threads, "summary": summary, "accuracy": drops})
    with open(os.path.join(args.out, "int8_side_by_side.json"), "w") as f:
        json.dump({"cpu": cpu_name, "cpu_flags": flags, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "rounds": args.rounds, "iters": args.iters, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
