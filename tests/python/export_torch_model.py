#!/usr/bin/python3
"""Exports a small attention block with PyTorch (Debian's python3-torch) for tests/python: random weights,
fixed seed, batch and sequence length dynamic. Writes OUT/model.onnx and, per sequence length L in 3 5 9,
OUT/input_L.npy and OUT/expected_L.npy (PyTorch's output).

Run with /usr/bin/python3 (Debian's numpy 1.x matches Debian's torch; the venv's numpy 2 does not):

    /usr/bin/python3 tests/python/export_torch_model.py OUT
"""
import os
import sys
import warnings

import numpy as np
import torch

SEQUENCE_LENGTHS = (3, 5, 9)


class AttentionBlock(torch.nn.Module):
    """Self-attention, a GELU feed-forward layer and LayerNorm: MatMul, Softmax, Erf, Reshape with dynamic dims."""

    def __init__(self, width=16, heads=2):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = torch.nn.LayerNorm(width)
        self.feed_forward = torch.nn.Sequential(torch.nn.Linear(width, 32), torch.nn.GELU(), torch.nn.Linear(32, width))

    def forward(self, x):
        attended, _ = self.attention(x, x, x, need_weights=False)
        x = self.norm(x + attended)
        return x + self.feed_forward(x)


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    model = AttentionBlock().eval()
    example = torch.randn(2, 4, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), os.path.join(out, "model.onnx"), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 1: "sequence"}, "y": {0: "batch", 1: "sequence"}},
                          opset_version=17)
    for length in SEQUENCE_LENGTHS:
        x = torch.randn(2, length, 16)
        with torch.no_grad():
            y = model(x)
        np.save(os.path.join(out, f"input_{length}.npy"), x.numpy())
        np.save(os.path.join(out, f"expected_{length}.npy"), y.numpy())


if __name__ == "__main__":
    main(sys.argv[1])
