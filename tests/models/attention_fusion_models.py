#!/usr/bin/env python3
"""attention_fusion on the attention exports it must fuse, with Debian's torch (random weights, fixed seed):

- the small BERT-like encoder and GPT-2-like decoder of export_small_transformers.py (dynamic batch and sequence:
  the mask's key length is not provable, so the fusion expands the mask to the keys);
- torch.nn.TransformerEncoder of two nn.TransformerEncoderLayer (nn.MultiheadAttention's [S, B*N, H] layout),
  batch_first False and True, with and without src_key_padding_mask.

For each model: `tessera info --opt-level all` shows one com.tessera Attention per layer and no Softmax left;
`tessera compare` (opt-level disabled vs all, on the saved inputs) finds no value beyond its tolerance and a
largest relative error below 1e-5; and Tessera's output at opt-level all equals torch's within 1e-4 (a few seconds).

    .venv/bin/python tests/models/attention_fusion_models.py TESSERA_CLI WORK_DIR
    (runs itself as /usr/bin/python3 ... --export WORK_DIR for the exports: torch lives in the system Python)
"""
import os
import re
import subprocess
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = 2


def export_mha(dest, torch):
    nn = torch.nn
    for batch_first in (False, True):
        for padding in (False, True):
            torch.manual_seed(0)
            layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0,
                                               batch_first=batch_first)
            encoder = nn.TransformerEncoder(layer, num_layers=LAYERS, enable_nested_tensor=False).eval()

            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = encoder

                def forward(self, x, mask=None):
                    return self.encoder(x, src_key_padding_mask=mask)

            batch, seq = 2, 7
            x = torch.randn(batch, seq, 32) if batch_first else torch.randn(seq, batch, 32)
            mask = torch.zeros(batch, seq, dtype=torch.bool)
            mask[1, 5:] = True  # the second sequence is padded
            args, names = ((x, mask), ["x", "mask"]) if padding else ((x,), ["x"])
            dims = {0: "batch", 1: "sequence"} if batch_first else {0: "sequence", 1: "batch"}
            axes = {"x": dims, "y": dims}
            if padding:
                axes["mask"] = {0: "batch", 1: "sequence"}
            name = f"mha_batch_first{int(batch_first)}_padding{int(padding)}"
            folder = os.path.join(dest, name)
            os.makedirs(folder, exist_ok=True)
            # Gradients on: the eval fast path (aten::_transformer_encoder_layer_fwd) has no ONNX export.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(Model().eval(), args, os.path.join(folder, "model.onnx"), opset_version=14,
                                  input_names=names, output_names=["y"], dynamic_axes=axes)
                expected = Model().eval()(*args)
            save_data(folder, dict(zip(names, args)), expected)


def save_data(folder, inputs, expected):
    for name, value in inputs.items():
        np.save(os.path.join(folder, f"input_{name}.npy"), value.detach().numpy())
    np.save(os.path.join(folder, "expected.npy"), expected.detach().numpy())


def export_small_transformers(dest, torch):
    exports = os.path.join(dest, "small")
    os.makedirs(exports, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "export_small_transformers.py"), exports], check=True)
    torch.manual_seed(1)
    ids = torch.randint(0, 100, (2, 16))
    attention_mask = torch.ones(2, 16, dtype=torch.int64)
    attention_mask[1, 12:] = 0
    for name, inputs in (("bert", {"input_ids": ids, "attention_mask": attention_mask}), ("gpt2", {"input_ids": ids})):
        folder = os.path.join(dest, name)
        os.makedirs(folder, exist_ok=True)
        os.replace(os.path.join(exports, f"{name}.onnx"), os.path.join(folder, "model.onnx"))
        for key, value in inputs.items():
            np.save(os.path.join(folder, f"input_{key}.npy"), value.numpy())


def export(dest):
    import torch

    torch.set_num_threads(1)
    export_mha(dest, torch)
    export_small_transformers(dest, torch)


def op_count(info, op):
    found = re.search(rf"^\s+{re.escape(op)}\s+(\d+)$", info, re.M)
    return int(found.group(1)) if found else 0


def check(cli, folder, failures):
    name = os.path.basename(folder)
    model = os.path.join(folder, "model.onnx")
    inputs = []
    for f in sorted(os.listdir(folder)):
        if f.startswith("input_"):
            inputs += ["--input", f"{f[len('input_'):-len('.npy')]}={os.path.join(folder, f)}"]
    info = subprocess.run([cli, "info", model, "--opt-level", "all"], check=True, capture_output=True, text=True).stdout
    optimized = info[info.index("ops after optimization"):]
    fused, softmax = op_count(optimized, "com.tessera.Attention"), op_count(optimized, "Softmax")
    compare = subprocess.run([cli, "compare", model] + inputs, capture_output=True, text=True)
    largest = re.search(r"largest relative error: (\S+)", compare.stdout)
    error = float(largest.group(1)) if largest else float("inf")
    line = f"{name}: {fused} Attention, {softmax} Softmax left; disabled vs all: largest relative error {error:.2e}"
    if fused != LAYERS or softmax != 0:
        failures.append(f"{name}: {fused} com.tessera Attention and {softmax} Softmax at opt-level all")
    if compare.returncode != 0 or not error < 1e-5:
        failures.append(f"{name}: tessera compare exit {compare.returncode}, largest relative error {error}")
    expected_file = os.path.join(folder, "expected.npy")
    if os.path.exists(expected_file):
        out = os.path.join(folder, "tessera-output")
        subprocess.run([cli, "run", model] + inputs + ["--output-dir", out], check=True, stdout=subprocess.DEVNULL)
        import onnx.numpy_helper

        with open(os.path.join(out, "output_0.pb"), "rb") as f:
            actual = onnx.numpy_helper.to_array(onnx.TensorProto.FromString(f.read()))
        expected = np.load(expected_file)
        difference = float(np.max(np.abs(actual - expected)) / max(float(np.max(np.abs(expected))), 1e-30))
        line += f"; vs torch {difference:.2e}"
        if actual.shape != expected.shape or not difference < 1e-4:
            failures.append(f"{name}: output differs from torch's by {difference:.2e} (relative to its largest)")
    print(line)


def main() -> int:
    if sys.argv[1] == "--export":
        export(sys.argv[2])
        return 0
    cli, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--export", work], check=True)
    failures = []
    for name in sorted(os.listdir(work)):
        folder = os.path.join(work, name)
        if os.path.exists(os.path.join(folder, "model.onnx")):
            check(cli, folder, failures)
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
