#!/usr/bin/env python3
"""Exports a small BERT-like encoder (2 layers, hidden 64, 4 heads, attention mask) and a small GPT-2-like
decoder (2 layers, hidden 64, 4 heads, causal mask) with Debian's torch, random weights, fixed seed, from the
architectures of bench/export_models.py. Run by transformers_optimizer_models.py (ONNX Runtime lives in the venv,
torch in the system Python).

    /usr/bin/python3 tests/models/export_small_transformers.py DEST
"""
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import export_models  # noqa: E402

export_models.torch = torch


def main() -> int:
    dest = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    bert_class, gpt2_class = export_models.define_transformers()
    bert = bert_class(vocab=100, hidden=64, layers=2, heads=4, ffn=128, max_positions=32).eval()
    gpt2 = gpt2_class(vocab=100, hidden=64, layers=2, heads=4, positions=32).eval()
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    dims = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(bert, (ids, mask), os.path.join(dest, "bert.onnx"), opset_version=14,
                          input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                          dynamic_axes={"input_ids": dims, "attention_mask": dims, "hidden": dims},
                          do_constant_folding=True)
        torch.onnx.export(gpt2, (ids,), os.path.join(dest, "gpt2.onnx"), opset_version=14, input_names=["input_ids"],
                          output_names=["logits"], dynamic_axes={"input_ids": dims, "logits": dims},
                          do_constant_folding=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
