#!/usr/bin/python3
"""Exports the whole-model benchmarks to ONNX with Debian's PyTorch (python3-torch / python3-torchvision).

Random weights with a fixed seed (torch.manual_seed(0)), opset 17, a dynamic batch axis. Models:
resnet50, mobilenet_v2, squeezenet1_1 (torchvision, weights=None), bert_base (12-layer BERT-base encoder,
seq 128), gpt2_small (12-layer GPT-2-small-like decoder with causal mask and LM head, seq 128), mlp
(784-512-512-10, ReLU), lstm_speech (2-layer LSTM, hidden 256, over 100 frames of 80 features), gru_speech (the
same with GRU layers).

Layout of OUT (default bench/models/, git-ignored; model files are never committed):

    OUT/manifest.json                      models, their inputs (dtype, shape) and files
    OUT/<model>/model.onnx
    OUT/<model>/<input>.npy                batch 1
    OUT/<model>/<input>_b8.npy             batch 8

Run with Debian's python (its numpy 1.x matches Debian's torch):

    /usr/bin/python3 bench/export_models.py [OUT] [--models a,b] [--force]

Models already exported are skipped unless --force; the manifest is rewritten for every model present.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_inputs import input_file_name, make_input  # noqa: E402

OPSET = 17
BATCHES = (1, 8)
SEQ = 128
BERT_VOCAB = 30522
GPT2_VOCAB = 50257

torch = None  # imported only when a model needs exporting, so a rerun with everything present is instant


def image_input():
    return [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 224, 224]}]


# name -> (builder name, inputs, output names, description)
MODELS = {
    "resnet50": ("torchvision:resnet50", image_input(), ["output"], "torchvision resnet50, 224x224"),
    "mobilenet_v2": ("torchvision:mobilenet_v2", image_input(), ["output"], "torchvision mobilenet_v2, 224x224"),
    "squeezenet1_1": ("torchvision:squeezenet1_1", image_input(), ["output"], "torchvision squeezenet1_1, 224x224"),
    "bert_base": ("bert_base",
                  [{"name": "input_ids", "dtype": "int64", "shape": ["batch", SEQ], "high": BERT_VOCAB},
                   {"name": "attention_mask", "dtype": "int64", "shape": ["batch", SEQ]}],
                  ["last_hidden_state"],
                  "BERT-base encoder: 12 layers, hidden 768, 12 heads, FFN 3072, GELU (erf), post-norm, seq 128"),
    "gpt2_small": ("gpt2_small",
                   [{"name": "input_ids", "dtype": "int64", "shape": ["batch", SEQ], "high": GPT2_VOCAB}],
                   ["logits"],
                   "GPT-2-small-like decoder: 12 layers, hidden 768, 12 heads, FFN 3072, GELU (tanh), pre-norm, "
                   "causal mask, tied LM head (vocab 50257), seq 128"),
    "mlp": ("mlp", [{"name": "input", "dtype": "float32", "shape": ["batch", 784], "distribution": "uniform"}],
            ["output"], "MLP 784-512-512-10, ReLU"),
    "lstm_speech": ("lstm_speech", [{"name": "features", "dtype": "float32", "shape": ["batch", 100, 80]}],
                    ["logits"], "speech-style LSTM: 100 frames of 80 features, 2 layers of hidden 256 (batch first), "
                    "a per-frame linear layer to 32 classes"),
    "gru_speech": ("gru_speech", [{"name": "features", "dtype": "float32", "shape": ["batch", 100, 80]}],
                   ["logits"], "speech-style GRU: 100 frames of 80 features, 2 layers of hidden 256 (batch first, "
                   "linear_before_reset as PyTorch computes it), a per-frame linear layer to 32 classes"),
}


def define_transformers():
    """The BERT and GPT-2 modules, written out (matmul/softmax attention) so they export to plain ONNX ops the
    way Hugging Face's exports do, with no fused PyTorch fast path in the way."""
    nn = torch.nn
    F = torch.nn.functional

    def split_heads(x, heads):  # [B, S, H] -> [B, heads, S, H / heads]
        return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)

    def merge_heads(x):  # [B, heads, S, D] -> [B, S, heads * D]
        x = x.transpose(1, 2)
        return x.reshape(x.shape[0], x.shape[1], -1)

    def attention(q, k, v, bias, heads):
        q, k, v = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + bias
        return merge_heads(torch.matmul(torch.softmax(scores, dim=-1), v))

    class BertLayer(nn.Module):
        def __init__(self, hidden, heads, ffn):
            super().__init__()
            self.heads = heads
            self.query, self.key, self.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
            self.attention_output = nn.Linear(hidden, hidden)
            self.attention_norm = nn.LayerNorm(hidden, eps=1e-12)
            self.intermediate = nn.Linear(hidden, ffn)
            self.output = nn.Linear(ffn, hidden)
            self.output_norm = nn.LayerNorm(hidden, eps=1e-12)

        def forward(self, x, mask_bias):
            context = attention(self.query(x), self.key(x), self.value(x), mask_bias, self.heads)
            x = self.attention_norm(x + self.attention_output(context))
            return self.output_norm(x + self.output(F.gelu(self.intermediate(x))))

    class BertEncoder(nn.Module):
        def __init__(self, vocab=BERT_VOCAB, hidden=768, layers=12, heads=12, ffn=3072, max_positions=512):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, hidden)
            self.position_embeddings = nn.Embedding(max_positions, hidden)
            self.embedding_norm = nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList([BertLayer(hidden, heads, ffn) for _ in range(layers)])
            self.register_buffer("position_ids", torch.arange(max_positions).unsqueeze(0), persistent=False)

        def forward(self, input_ids, attention_mask):
            positions = self.position_ids[:, : input_ids.shape[1]]
            x = self.embedding_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions))
            # [B, S] of 1/0 -> an additive bias [B, 1, 1, S]: 0 where attended, -10000 where padded.
            mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, mask_bias)
            return x

    class Gpt2Block(nn.Module):
        def __init__(self, hidden, heads):
            super().__init__()
            self.heads, self.hidden = heads, hidden
            self.norm_1 = nn.LayerNorm(hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.projection = nn.Linear(hidden, hidden)
            self.norm_2 = nn.LayerNorm(hidden)
            self.fc = nn.Linear(hidden, 4 * hidden)
            self.fc_out = nn.Linear(4 * hidden, hidden)

        def forward(self, x, causal_bias):
            q, k, v = self.qkv(self.norm_1(x)).split(self.hidden, dim=-1)
            x = x + self.projection(attention(q, k, v, causal_bias, self.heads))
            return x + self.fc_out(F.gelu(self.fc(self.norm_2(x)), approximate="tanh"))

    class Gpt2Decoder(nn.Module):
        def __init__(self, vocab=GPT2_VOCAB, hidden=768, layers=12, heads=12, positions=1024):
            super().__init__()
            self.token_embeddings = nn.Embedding(vocab, hidden)
            self.position_embeddings = nn.Embedding(positions, hidden)
            self.blocks = nn.ModuleList([Gpt2Block(hidden, heads) for _ in range(layers)])
            self.final_norm = nn.LayerNorm(hidden)
            causal = torch.full((SEQ, SEQ), -10000.0).triu(1)  # -10000 above the diagonal: no looking ahead
            self.register_buffer("causal_bias", causal[None, None], persistent=False)
            self.register_buffer("position_ids", torch.arange(positions).unsqueeze(0), persistent=False)

        def forward(self, input_ids):
            seq = input_ids.shape[1]
            x = self.token_embeddings(input_ids) + self.position_embeddings(self.position_ids[:, :seq])
            causal_bias = self.causal_bias[:, :, :seq, :seq]
            for block in self.blocks:
                x = block(x, causal_bias)
            # LM head tied to the token embeddings, as in GPT-2.
            return torch.matmul(self.final_norm(x), self.token_embeddings.weight.t())

    return BertEncoder, Gpt2Decoder


def build(name):
    builder = MODELS[name][0]
    torch.manual_seed(0)
    if builder.startswith("torchvision:"):
        import torchvision

        return getattr(torchvision.models, builder.split(":")[1])(weights=None)
    if builder == "mlp":
        nn = torch.nn
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    if builder in ("lstm_speech", "gru_speech"):
        class RecurrentSpeech(torch.nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.recurrent = layer(80, 256, num_layers=2, batch_first=True)
                self.classifier = torch.nn.Linear(256, 32)

            def forward(self, features):
                return self.classifier(self.recurrent(features)[0])

        return RecurrentSpeech(torch.nn.LSTM if builder == "lstm_speech" else torch.nn.GRU)
    bert, gpt2 = define_transformers()
    return bert() if builder == "bert_base" else gpt2()


def model_dir(out, name):
    return os.path.join(out, name)


def files_present(out, name):
    folder = model_dir(out, name)
    needed = ["model.onnx"] + [input_file_name(spec["name"], b) for spec in MODELS[name][1] for b in BATCHES]
    return all(os.path.exists(os.path.join(folder, f)) for f in needed)


def export(out, name):
    global torch
    if torch is None:
        import torch as module

        torch = module
        torch.set_num_threads(1)  # a shared 2-core machine; the export is not the benchmark
    _, inputs, outputs, _ = MODELS[name]
    model = build(name).eval()
    staging = model_dir(out, name) + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    arrays = {b: [make_input(spec, b) for spec in inputs] for b in BATCHES}
    for b in BATCHES:
        for spec, array in zip(inputs, arrays[b]):
            np.save(os.path.join(staging, input_file_name(spec["name"], b)), array)
    names = [spec["name"] for spec in inputs]
    dynamic = {n: {0: "batch"} for n in names + outputs}
    example = tuple(torch.from_numpy(a) for a in arrays[1])
    start = time.time()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, os.path.join(staging, "model.onnx"), opset_version=OPSET,
                          input_names=names, output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True)
    shutil.rmtree(model_dir(out, name), ignore_errors=True)
    os.rename(staging, model_dir(out, name))
    size_mb = os.path.getsize(os.path.join(model_dir(out, name), "model.onnx")) / 2**20
    print(f"exported {name} ({size_mb:.0f} MB) in {time.time() - start:.0f} s", flush=True)


def write_manifest(out):
    entries = {}
    for name, (_, inputs, outputs, description) in MODELS.items():
        if not files_present(out, name):
            continue
        entries[name] = {
            "description": description,
            "model": f"{name}/model.onnx",
            "inputs": inputs,
            "outputs": outputs,
            "files": {str(b): {spec["name"]: f"{name}/{input_file_name(spec['name'], b)}" for spec in inputs}
                      for b in BATCHES},
        }
    manifest = {"opset": OPSET, "seed": 0, "batch_axis": 0, "models": entries}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return entries


def main():
    default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=default_out, help="output folder (default bench/models/)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset (default: all)")
    parser.add_argument("--force", action="store_true", help="re-export models already present")
    args = parser.parse_args()
    wanted = [m for m in args.models.split(",") if m]
    unknown = [m for m in wanted if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    os.makedirs(args.out, exist_ok=True)
    for name in wanted:
        if files_present(args.out, name) and not args.force:
            print(f"{name}: present, skipped (--force re-exports)")
            continue
        export(args.out, name)
    entries = write_manifest(args.out)
    print(f"manifest: {os.path.join(args.out, 'manifest.json')} ({len(entries)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
