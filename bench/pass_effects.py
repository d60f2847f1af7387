#!/usr/bin/python3
"""Latency effect of each optimizer pass: `tessera bench` on a model with every pass on (--opt-level all) and with
one pass switched off (--disable-pass NAME), in interleaved rounds (a fresh process per run, the order rotating
each round); prints per pass the median latency over rounds and the ratio off/on (> 1: the pass makes it faster).

    /usr/bin/python3 bench/pass_effects.py bench/models/bert_base/model.onnx --passes attention_fusion,gelu_fusion
    /usr/bin/python3 bench/pass_effects.py MODEL --passes conv_add_fusion --threads 1 --rounds 5 --iters 20

Inputs are those `tessera bench` generates (or --input NAME=FILE, passed through). Needs build/bin/tessera.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESSERA = os.path.join(ROOT, "build", "bin", "tessera")


def bench(model, disabled, args):
    command = [TESSERA, "bench", model, "--threads", str(args.threads), "--iters", str(args.iters), "--warmup",
               str(args.warmup), "--json"]
    for spec in args.input:
        command += ["--input", spec]
    if disabled:
        command += ["--disable-pass", disabled]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--passes", required=True, help="comma-separated pass names to switch off one at a time")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--input", action="append", default=[], help="NAME=FILE, passed to tessera bench")
    args = parser.parse_args()
    configs = [""] + [p for p in args.passes.split(",") if p]
    times = {c: [] for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for config in order:
            times[config].append(bench(args.model, config, args))
    on = statistics.median(times[""])
    print(f"{os.path.basename(os.path.dirname(args.model)) or args.model}, threads {args.threads}, "
          f"{args.rounds} rounds x {args.iters} runs (medians of per-run medians)")
    print(f"  all passes on: {on:.3f} ms")
    for config in configs[1:]:
        off = statistics.median(times[config])
        print(f"  without {config:28s} {off:.3f} ms   off/on {off / on:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
