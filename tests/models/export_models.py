#!/usr/bin/python3
"""Exports whole-model tests with PyTorch (Debian's python3-torch / python3-torchvision): random weights, fixed seed.

Each model goes to OUT/<name>/ in ONNX's backend test folder format:

    model.onnx
    test_data_set_N/input_0.pb, output_0.pb   (TensorProto, expected output computed by PyTorch)
    data.json                                 (rtol/atol for float32 model outputs)

Run with Debian's python (/usr/bin/python3: its numpy 1.x matches Debian's torch; the onnx package is not needed,
TensorProto is written here with a few lines of protobuf encoding):

    /usr/bin/python3 tests/models/export_models.py OUT [--force] [--only NAME ...]

A stamp per model (torch version + this script's hash) makes a rerun with nothing changed return at once.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import sys
import time
import warnings

import numpy as np

# torch and torchvision are imported only when a model needs exporting, so a rerun with current stamps is instant.
torch = None

STAMP = ".generated"
RTOL = 1e-3
ATOL = 1e-4

# ---------------------------------------------------------------------------------------------------------------
# Minimal TensorProto writer (onnx.proto: dims = 1, data_type = 2, name = 8, raw_data = 9).

_ONNX_DTYPES = {
    np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
    np.dtype(np.int16): 5, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
    np.dtype(np.float16): 10, np.dtype(np.float64): 11, np.dtype(np.uint32): 12, np.dtype(np.uint64): 13,
}


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are encoded as 10-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def tensor_proto(array: np.ndarray, name: str) -> bytes:
    array = np.asarray(array)
    dtype = _ONNX_DTYPES[array.dtype]
    out = bytearray()
    for dim in array.shape:
        out += _key(1, 0) + _varint(int(dim))
    out += _key(2, 0) + _varint(dtype)
    out += _length_delimited(8, name.encode())
    out += _length_delimited(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------
# Models. Each returns (module, list of input data sets, export keyword arguments).


def _randomize_batchnorm(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Default BatchNorm statistics are the identity; random ones make the exported BatchNormalization matter."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(n, generator=generator) * 0.1)


def resnet18():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    _randomize_batchnorm(model, torch.Generator().manual_seed(1))
    inputs = [torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))]
    return model, [inputs], dict(opset_version=13)


def mobilenet_v2():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None)
    _randomize_batchnorm(model, torch.Generator().manual_seed(1))
    inputs = [torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))]
    return model, [inputs], dict(opset_version=13)


def transformer_encoder():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    generator = torch.Generator().manual_seed(2)
    # Data sets with other batch sizes and sequence lengths check the dynamic axes.
    data_sets = [[torch.randn(2, 10, 64, generator=generator)], [torch.randn(3, 10, 64, generator=generator)],
                 [torch.randn(1, 17, 64, generator=generator)]]
    dynamic = {"input": {0: "batch", 1: "sequence"}, "output": {0: "batch", 1: "sequence"}}
    return model, data_sets, dict(opset_version=14, dynamic_axes=dynamic)


def squeezenet1_1():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_1(weights=None)
    generator = torch.Generator().manual_seed(2)
    # Batch, height and width other than the export's, one after another on one session.
    data_sets = [[torch.randn(1, 3, 96, 96, generator=generator)], [torch.randn(2, 3, 128, 112, generator=generator)]]
    dynamic = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}}
    return model, data_sets, dict(opset_version=13, dynamic_axes=dynamic)


def sequence_model(model_class, shapes):
    """A [batch, sequence, features] model of `model_class` (seeded) with one data set per shape, batch and sequence
    dynamic."""
    torch.manual_seed(0)
    model = model_class()
    generator = torch.Generator().manual_seed(2)
    data_sets = [[torch.randn(*shape, generator=generator)] for shape in shapes]
    dynamic = {"input": {0: "batch", 1: "sequence"}, "output": {0: "batch", 1: "sequence"}}
    return model, data_sets, dict(opset_version=14, dynamic_axes=dynamic)


def lstm_tagger():
    class LstmTagger(torch.nn.Module):
        """A two-layer bidirectional LSTM over [batch, sequence, 16] features with a per-step linear head."""

        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(16, 24, num_layers=2, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(48, 5)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.head(y)

    return sequence_model(LstmTagger, [(2, 7, 16), (3, 12, 16), (1, 3, 16)])


def gru_rnn_encoder():
    class GruRnnEncoder(torch.nn.Module):
        """A two-layer bidirectional GRU (ONNX GRU with linear_before_reset, as PyTorch computes it), then a ReLU RNN
        over [batch, sequence, 12] features, with a per-step linear head."""

        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(12, 32, num_layers=2, bidirectional=True, batch_first=True)
            self.rnn = torch.nn.RNN(64, 20, nonlinearity="relu", batch_first=True)
            self.head = torch.nn.Linear(20, 3)

        def forward(self, x):
            y, _ = self.gru(x)
            z, _ = self.rnn(y)
            return self.head(z)

    return sequence_model(GruRnnEncoder, [(2, 9, 12), (4, 30, 12), (1, 1, 12)])


def control_flow():
    class ControlFlow(torch.nn.Module):
        """Scripted control flow: a loop over the rows (ONNX Loop) choosing per row by its sign (ONNX If)."""

        def forward(self, x):
            acc = torch.zeros_like(x[0])
            for i in range(x.size(0)):
                if bool(x[i].sum() > 0):
                    acc = acc + x[i] * 2
                else:
                    acc = acc - x[i]
            return acc

    model = torch.jit.script(ControlFlow())
    generator = torch.Generator().manual_seed(2)
    data_sets = [[torch.randn(4, 5, generator=generator)], [torch.randn(7, 5, generator=generator)],
                 [torch.randn(1, 5, generator=generator)]]
    return model, data_sets, dict(opset_version=14, dynamic_axes={"input": {0: "rows"}})


MODELS = {
    "resnet18": resnet18,
    "mobilenet_v2": mobilenet_v2,
    "squeezenet1_1": squeezenet1_1,
    "transformer_encoder": transformer_encoder,
    "lstm_tagger": lstm_tagger,
    "gru_rnn_encoder": gru_rnn_encoder,
    "control_flow": control_flow,
}

# ---------------------------------------------------------------------------------------------------------------


def stamp_text(name: str) -> str:
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    versions = " ".join(f"{p} {importlib.metadata.version(p)}" for p in ("torch", "torchvision", "numpy"))
    return f"model {name}\n{versions}\nscript {digest}\n"


def import_torch() -> None:
    global torch
    if torch is None:
        import torch as module

        torch = module
        torch.set_num_threads(1)  # OpenMP threads stall on a loaded machine; one is faster here


def export(name: str, out_dir: str) -> None:
    import_torch()
    model, data_sets, kwargs = MODELS[name]()
    model.eval()
    buffer = io.BytesIO()
    # Export and compute the expected outputs with autograd on: under no_grad, PyTorch 1.13 takes the fused
    # TransformerEncoderLayer fast path (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(data_sets[0]), buffer, input_names=["input"], output_names=["output"],
                          do_constant_folding=True, **kwargs)
    staging = out_dir + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    with open(os.path.join(staging, "model.onnx"), "wb") as f:
        f.write(buffer.getvalue())
    for i, inputs in enumerate(data_sets):
        set_dir = os.path.join(staging, f"test_data_set_{i}")
        os.makedirs(set_dir)
        outputs = model(*inputs)
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        outputs = [y.detach() for y in outputs]
        for k, x in enumerate(inputs):
            with open(os.path.join(set_dir, f"input_{k}.pb"), "wb") as f:
                f.write(tensor_proto(x.numpy(), "input"))
        for k, y in enumerate(outputs):
            with open(os.path.join(set_dir, f"output_{k}.pb"), "wb") as f:
                f.write(tensor_proto(y.numpy(), "output"))
    with open(os.path.join(staging, "data.json"), "w") as f:
        json.dump({"rtol": RTOL, "atol": ATOL}, f, sort_keys=True)
    with open(os.path.join(staging, STAMP), "w") as f:
        f.write(stamp_text(name))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(staging, out_dir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", help="folder to write; each model goes to OUTPUT/<name>")
    parser.add_argument("--force", action="store_true", help="re-export even when the stamp says the model is current")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), help="export only these models")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    # A staging folder left by an interrupted run would otherwise be found as a test.
    for entry in os.scandir(args.output):
        if entry.name.endswith(".tmp"):
            shutil.rmtree(entry.path)
    for name in args.only or MODELS:
        out_dir = os.path.join(args.output, name)
        stamp_path = os.path.join(out_dir, STAMP)
        if not args.force and os.path.exists(stamp_path):
            with open(stamp_path) as f:
                if f.read() == stamp_text(name):
                    print(f"{name}: current")
                    continue
        start = time.monotonic()
        export(name, out_dir)
        print(f"{name}: exported to {out_dir} in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
