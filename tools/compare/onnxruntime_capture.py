#!/usr/bin/env python3
"""Runs a model in ONNX Runtime (CPU provider) with every node output exposed, for `tessera compare --runtime-b
onnxruntime`. Reads the feeds from FEEDS/<input name>.npy (names as the files list in FEEDS/feeds.json) and writes
each value to OUT/<k>.npy with OUT/values.json listing [value, node name, op] in graph order.

    python3 tools/compare/onnxruntime_capture.py MODEL FEEDS OUT [--opt-level disabled|basic|extended|all]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime

LEVELS = {
    "disabled": onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("feeds")
    parser.add_argument("out")
    parser.add_argument("--opt-level", default="disabled", choices=sorted(LEVELS))
    args = parser.parse_args()
    model = onnx.load(args.model)
    existing = {o.name for o in model.graph.output}
    values = []
    for node in model.graph.node:
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        for name in node.output:
            if not name:
                continue
            values.append([name, node.name, op])
            if name not in existing:
                model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
                existing.add(name)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = LEVELS[args.opt_level]
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with open(os.path.join(args.feeds, "feeds.json")) as f:
        names = json.load(f)
    feeds = {name: np.load(os.path.join(args.feeds, f"{k}.npy")) for k, name in enumerate(names)}
    wanted = [o.name for o in session.get_outputs()]
    results = dict(zip(wanted, session.run(wanted, feeds)))
    os.makedirs(args.out, exist_ok=True)
    listed = []
    for k, (name, node, op) in enumerate(values):
        value = results.get(name)
        if not isinstance(value, np.ndarray):
            continue
        np.save(os.path.join(args.out, f"{k}.npy"), value)
        listed.append([name, node, op, f"{k}.npy"])
    with open(os.path.join(args.out, "values.json"), "w") as f:
        json.dump(listed, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
