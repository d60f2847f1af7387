#!/usr/bin/env python3
"""`tessera quantize` (dynamic) on recurrent and attention models, checked against ONNX Runtime 1.31's
quantize_dynamic:

- the whole-model tests' LSTM tagger (two bidirectional LSTM layers exported by Debian's torch): each LSTM becomes
  com.microsoft DynamicQuantizeLSTM;
- a small BERT-like encoder (export_small_transformers.py) fused by onnxruntime.transformers.optimizer into
  com.microsoft Attention: each Attention becomes DynamicQuantizeLinear -> com.microsoft QAttention;
- the whole-model tests' GRU encoder (two bidirectional GRU layers with linear_before_reset, a ReLU RNN, a linear
  head): quantize_dynamic leaves GRU float (onnxruntime has no quantized GRU); Tessera writes each GRU reading int8 W
  and R through DequantizeLinear nodes, which ONNX Runtime runs as a float GRU on the dequantized weights and
  Tessera's optimizer fuses into com.tessera DynamicQuantizeRecurrent (X and h quantized at run time).

For per-tensor and per-channel weights:
1. Tessera writes as many DynamicQuantizeLSTM / QAttention nodes as quantize_dynamic, and the weight integers,
   scales and zero points quantize_dynamic writes are in Tessera's model under the same names with equal values;
2. Tessera's quantized model loads in ONNX Runtime and both runtimes' outputs on it agree within the bounds below,
   and so do both runtimes' outputs on quantize_dynamic's own model;
3. the drop from the float model (relative L2 of the output) stays below the bounds below.
For the GRU encoder (no quantize_dynamic counterpart): every GRU reads both weights through DequantizeLinear, each
becomes one DynamicQuantizeRecurrent at Tessera's opt-level all, ONNX Runtime loads the model, and the runtimes'
outputs on it and the drop from float stay below the GRU's bounds.

Bounds (relative L2 of the output), and why:
- BERT, runtimes on one quantized model, 1e-4: both quantize the activations with the same DynamicQuantizeLinear and
  sum the same integer products exactly; what differs is float rounding in the dequantization, softmax and layer
  normalization (measured 1.4e-7), unless a value lands on a rounding tie of a later DynamicQuantizeLinear.
- LSTM, runtimes on one quantized model, 1e-4: both quantize X and h to uint8 as DynamicQuantizeLinear does (X per
  sequence, h at every step) and sum the same integer products exactly; float rounding in the dequantization and the
  cells remains (measured 0 to 8.1e-8), unless a state lands on a rounding tie of a later step's quantization.
  (Until Tessera's kernel quantized X and h too, the two differed by that activation noise: 3.1e-3 to 4.5e-3.)
- GRU, runtimes on one quantized model, 2e-2: ONNX Runtime runs the float GRU on the dequantized weights, Tessera
  quantizes X, h and r (.) h to uint8 as well, so they differ by that activation noise (half a step of 1/255 of each
  range) through two layers and the RNN after them.
- drop from float, 2e-2: int8 weights (half a step of 1/254 of each weight range) through two layers (measured
  3.8e-3 to 4.2e-3 for BERT, 2.9e-3 to 4.6e-3 for the LSTM, for both tools' models).

    .venv/bin/python tests/models/quantize_attention_lstm_models.py TESSERA_CLI MODEL_TESTS_DIR WORK_DIR
"""
import logging
import os
import subprocess
import sys

import numpy as np
import onnx
from onnxruntime.transformers.optimizer import optimize_model

from quantize_models import initializers, ort_run, quantize_both, relative_l2, tessera_run

HERE = os.path.dirname(os.path.abspath(__file__))
QUANTIZED_OP = {"lstm": "DynamicQuantizeLSTM", "bert": "QAttention"}
BOUNDS = {"lstm": (1e-4, 2e-2), "bert": (1e-4, 2e-2), "gru": (2e-2, 2e-2)}  # (runtimes on one model, drop)


def export_bert(work):
    exports = os.path.join(work, "exports")
    os.makedirs(exports, exist_ok=True)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "export_small_transformers.py"), exports], check=True)
    logging.disable(logging.WARNING)
    optimized = optimize_model(os.path.join(exports, "bert.onnx"), model_type="bert", num_heads=4, hidden_size=64,
                               opt_level=0)
    path = os.path.join(work, "bert-optimized.onnx")
    optimized.save_model_to_file(path)
    return path


def feeds_for(name, rng):
    if name == "lstm":
        return [{"input": rng.standard_normal((2, 7, 16)).astype(np.float32)},
                {"input": rng.standard_normal((3, 12, 16)).astype(np.float32)}]
    sets = []
    for batch, seq in ((2, 16), (3, 9)):
        mask = np.ones((batch, seq), np.int64)
        mask[1, seq - 4:] = 0
        sets.append({"input_ids": rng.integers(0, 100, (batch, seq)).astype(np.int64), "attention_mask": mask})
    return sets


def count_ops(path, op_type):
    return sum(1 for n in onnx.load(path).graph.node if n.op_type == op_type and n.domain == "com.microsoft")


def check_weights(name, tag, ours, theirs, failures):
    quantized_op = QUANTIZED_OP[name]
    counts = (count_ops(ours, quantized_op), count_ops(theirs, quantized_op))
    a, b = initializers(ours), initializers(theirs)
    compared = [n for n in b if n.endswith(("_quantized", "_scale", "_zero_point"))]
    differ = [n for n in compared if n not in a or a[n].dtype != b[n].dtype or a[n].shape != b[n].shape or
              not np.array_equal(a[n], b[n])]
    print(f"{name} {tag}: {quantized_op} nodes Tessera {counts[0]}, quantize_dynamic {counts[1]}; "
          f"{len(compared)} weight tensors compared, {len(differ)} differ")
    if counts[0] == 0 or counts[0] != counts[1]:
        failures.append(f"{name} {tag}: {quantized_op} nodes {counts[0]} vs quantize_dynamic's {counts[1]}")
    if not compared or differ:
        failures.append(f"{name} {tag}: weights differ from quantize_dynamic's: {differ[:5]}")


def report_errors(where, errors, failures):
    """Prints {what: (value, bound)} and adds a failure for each value not below its bound."""
    print(f"  {where.split(' ', 2)[-1]}: " + ", ".join(f"{what} {value:.2e}" for what, (value, _) in errors.items()))
    for what, (value, bound) in errors.items():
        if not value < bound:
            failures.append(f"{where}: {what} {value:.2e} >= {bound}")


def check_model(cli, name, model, work, failures):
    rng = np.random.default_rng(11)
    runtimes_bound, drop_bound = BOUNDS[name]
    for per_channel in (False, True):
        tag = "per-channel" if per_channel else "per-tensor"
        ours = os.path.join(work, f"{name}-tessera-{tag}.onnx")
        theirs = os.path.join(work, f"{name}-onnxruntime-{tag}.onnx")
        # Tessera's op types (quantize_dynamic's default also has EmbedLayerNormalization and Gather, which Tessera
        # leaves float); onnxruntime's shape inference knows no contrib op types: told that unknown tensors are
        # float, as its error message advises.
        quantize_both(cli, model, ours, theirs, per_channel, op_types_to_quantize=["MatMul", "Attention", "LSTM"],
                      extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        check_weights(name, tag, ours, theirs, failures)
        for k, feeds in enumerate(feeds_for(name, rng)):
            reference = ort_run(model, feeds)
            ort_ours = ort_run(ours, feeds)
            tessera_ours = tessera_run(cli, ours, feeds, work)
            on_theirs = relative_l2(tessera_run(cli, theirs, feeds, work), ort_run(theirs, feeds))
            errors = {"runtimes on Tessera's model": (relative_l2(tessera_ours, ort_ours), runtimes_bound),
                      "runtimes on quantize_dynamic's model": (on_theirs, runtimes_bound),
                      "Tessera's drop from float": (relative_l2(tessera_ours, reference), drop_bound),
                      "ONNX Runtime's drop from float": (relative_l2(ort_ours, reference), drop_bound)}
            report_errors(f"{name} {tag} data set {k}", errors, failures)


def check_gru(cli, model, work, failures):
    rng = np.random.default_rng(12)
    runtimes_bound, drop_bound = BOUNDS["gru"]
    for per_channel in (False, True):
        tag = "per-channel" if per_channel else "per-direction"
        ours = os.path.join(work, f"gru-tessera-{tag}.onnx")
        subprocess.run([cli, "quantize", model, ours] + (["--per-channel"] if per_channel else []), check=True,
                       stdout=subprocess.DEVNULL)
        graph = onnx.load(ours).graph
        dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
        grus = [n for n in graph.node if n.op_type == "GRU"]
        through_dq = sum(1 for n in grus if n.input[1] in dequantized and n.input[2] in dequantized)
        optimized = os.path.join(work, f"gru-tessera-{tag}-optimized.onnx")
        subprocess.run([cli, "optimize", ours, optimized, "--opt-level", "all"], check=True, stdout=subprocess.DEVNULL)
        fused = sum(1 for n in onnx.load(optimized).graph.node
                    if n.op_type == "DynamicQuantizeRecurrent" and n.domain == "com.tessera")
        print(f"gru {tag}: {len(grus)} GRU nodes, {through_dq} reading int8 W and R through DequantizeLinear, "
              f"{fused} DynamicQuantizeRecurrent after Tessera's optimizer")
        if not grus or through_dq != len(grus) or fused != len(grus):
            failures.append(f"gru {tag}: {through_dq} of {len(grus)} GRUs dequantize their weights, {fused} fused")
        for k, shape in enumerate(((2, 9, 12), (4, 30, 12))):
            feeds = {"input": rng.standard_normal(shape).astype(np.float32)}
            reference = ort_run(model, feeds)
            ort_ours = ort_run(ours, feeds)
            tessera_ours = tessera_run(cli, ours, feeds, work)
            errors = {"runtimes on Tessera's model": (relative_l2(tessera_ours, ort_ours), runtimes_bound),
                      "Tessera's drop from float": (relative_l2(tessera_ours, reference), drop_bound),
                      "ONNX Runtime's drop from float": (relative_l2(ort_ours, reference), drop_bound)}
            report_errors(f"gru {tag} data set {k}", errors, failures)


def main() -> int:
    cli, tests, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    failures = []
    check_model(cli, "lstm", os.path.join(tests, "lstm_tagger", "model.onnx"), work, failures)
    check_model(cli, "bert", export_bert(work), work, failures)
    check_gru(cli, os.path.join(tests, "gru_rnn_encoder", "model.onnx"), work, failures)
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
