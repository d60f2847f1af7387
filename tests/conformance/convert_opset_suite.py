#!/usr/bin/env python3
"""Converts every model of backend-test folders to one ai.onnx opset with `tessera convert-opset` and writes a
mirror of the folders (converted model.onnx, the original test_data_set_* linked) that `tessera conformance` then
runs against the original expected outputs. Models already at the target are converted too (a no-op that must
still run). Prints how many converted and, per reason, how many were refused; exits 1 if a refusal is not a clear
kUnsupported / kInvalidArgument message.

    tests/conformance/convert_opset_suite.py TESSERA TARGET OUT_DIR FOLDER...

With TARGET "chain:N", every model at opset 1 is instead carried up one version at a time to N, each step's model
kept (OUT_DIR/opset_K/FOLDER/TEST) for `tessera conformance` to run them all; a refusal on the way fails.
"""
import collections
import os
import shutil
import subprocess
import sys

import onnx


def link_data(source: str, dest: str) -> None:
    for entry in os.listdir(source):
        if entry.startswith("test_data_set"):
            os.symlink(os.path.join(source, entry), os.path.join(dest, entry))


def opset_of(model: str) -> int:
    """The model's ai.onnx opset import (-1 without one)."""
    loaded = onnx.load(model, load_external_data=False)
    return next((o.version for o in loaded.opset_import if o.domain in ("", "ai.onnx")), -1)


def chain(tessera: str, last: int, out_dir: str, folders: list) -> int:
    steps, failures = 0, []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            source = os.path.join(folder, name)
            model = os.path.join(source, "model.onnx")
            if not os.path.isfile(model) or opset_of(model) != 1:
                continue
            current = model
            for version in range(2, last + 1):
                dest = os.path.join(out_dir, f"opset_{version}", os.path.basename(folder.rstrip("/")), name)
                os.makedirs(dest)
                r = subprocess.run([tessera, "convert-opset", current, os.path.join(dest, "model.onnx"), "--to",
                                    str(version)], capture_output=True, text=True)
                if r.returncode != 0:
                    failures.append(f"{name} -> {version}: {r.stderr.strip()}")
                    shutil.rmtree(dest)
                    break
                link_data(source, dest)
                current = os.path.join(dest, "model.onnx")
                steps += 1
    print(f"convert-opset chain 1 -> {last}: {steps} steps")
    for line in failures:
        print(f"  FAILED: {line}")
    return 1 if failures or steps == 0 else 0


def main() -> int:
    tessera, target, out_dir, folders = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    shutil.rmtree(out_dir, ignore_errors=True)
    if target.startswith("chain:"):
        return chain(tessera, int(target.split(":", 1)[1]), out_dir, folders)
    converted, refused, unexpected = 0, collections.Counter(), []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            source = os.path.join(folder, name)
            model = os.path.join(source, "model.onnx")
            if not os.path.isfile(model):
                continue
            dest = os.path.join(out_dir, os.path.basename(folder.rstrip("/")), name)
            os.makedirs(dest)
            r = subprocess.run([tessera, "convert-opset", model, os.path.join(dest, "model.onnx"), "--to", target],
                               capture_output=True, text=True)
            if r.returncode != 0:
                shutil.rmtree(dest)
                message = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "(no message)"
                if "UNSUPPORTED" not in message and "INVALID_ARGUMENT" not in message and "MODEL" not in message:
                    unexpected.append(f"{name}: {message}")
                # The reason without the node name: the text after the node label.
                refused[message.split("): ", 1)[-1][:90]] += 1
                continue
            link_data(source, dest)
            converted += 1
    print(f"convert-opset --to {target}: {converted} converted, {sum(refused.values())} refused")
    for reason, count in refused.most_common():
        print(f"  refused {count:4d}: {reason}")
    for line in unexpected:
        print(f"  UNEXPECTED: {line}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
