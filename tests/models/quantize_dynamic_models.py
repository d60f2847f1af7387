#!/usr/bin/env python3
"""`tessera quantize --mode dynamic` on the whole-model tests' transformer encoder (MatMul and Gemm weights),
checked three ways against ONNX Runtime 1.31:

1. the weight integers, scales and zero points equal those onnxruntime.quantization.quantize_dynamic writes for
   the same model (same names, same values);
2. the quantized model loads in ONNX Runtime, and Tessera's outputs on it match ONNX Runtime's within quantization
   noise (relative L2 below 1e-2; Tessera fuses each group into DynamicQuantizeMatMul, as ONNX Runtime does), and
   so do both runtimes' outputs on quantize_dynamic's own model;
3. the accuracy drop against the float model's own outputs stays small (relative L2 below 5e-2), for per-tensor
   and per-channel weights.

    .venv/bin/python tests/models/quantize_dynamic_models.py TESSERA_CLI MODEL_TESTS_DIR WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic


def relative_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-30))


def ort_run(path, feeds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def tessera_run(cli, path, feeds, work):
    args = [cli, "run", path, "--output-dir", os.path.join(work, "out")]
    for name, value in feeds.items():
        np.save(os.path.join(work, name + ".npy"), value)
        args += ["--input", f"{name}={os.path.join(work, name + '.npy')}"]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    proto = onnx.TensorProto()
    with open(os.path.join(work, "out", "output_0.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return numpy_helper.to_array(proto)


def initializers(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def main() -> int:
    cli, tests, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    folder = os.path.join(tests, "transformer_encoder")
    model = os.path.join(folder, "model.onnx")
    failures = []
    for per_channel in (False, True):
        tag = "per-channel" if per_channel else "per-tensor"
        ours = os.path.join(work, f"tessera-{tag}.onnx")
        theirs = os.path.join(work, f"onnxruntime-{tag}.onnx")
        subprocess.run([cli, "quantize", model, ours] + (["--per-channel"] if per_channel else []), check=True,
                       stdout=subprocess.DEVNULL)
        quantize_dynamic(model, theirs, weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=["MatMul", "Gemm"])
        a, b = initializers(ours), initializers(theirs)
        # Every weight onnxruntime quantized (it skips the second reader of a shared weight; Tessera does not).
        quantized = [n for n in b if n.endswith(("_quantized", "_scale", "_zero_point")) and not n.startswith("/")]
        differ = [n for n in quantized if n not in a or a[n].dtype != b[n].dtype or not np.array_equal(a[n], b[n])]
        print(f"{tag}: {len(quantized)} weight tensors of quantize_dynamic's compared, {len(differ)} differ")
        if not quantized or differ:
            failures.append(f"{tag}: weights differ from onnxruntime's: {differ[:5]}")
        for k in range(2):
            proto = onnx.TensorProto()
            with open(os.path.join(folder, f"test_data_set_{k}", "input_0.pb"), "rb") as f:
                proto.ParseFromString(f.read())
            feeds = {"input": numpy_helper.to_array(proto)}
            reference = ort_run(model, feeds)
            ort_quantized = ort_run(ours, feeds)
            tessera_quantized = tessera_run(cli, ours, feeds, work)
            vs_ort = relative_l2(tessera_quantized, ort_quantized)
            drop = relative_l2(tessera_quantized, reference)
            ort_drop = relative_l2(ort_quantized, reference)
            print(f"  data set {k}: Tessera vs ONNX Runtime on the quantized model {vs_ort:.2e}; "
                  f"vs float: Tessera {drop:.2e}, ONNX Runtime {ort_drop:.2e}")
            # ... and Tessera runs onnxruntime's own quantized model as onnxruntime does.
            on_theirs = relative_l2(tessera_run(cli, theirs, feeds, work), ort_run(theirs, feeds))
            print(f"  data set {k}: on quantize_dynamic's model, Tessera vs ONNX Runtime {on_theirs:.2e}")
            if on_theirs > 1e-2:
                failures.append(f"{tag} data set {k}: on onnxruntime's quantized model the runtimes differ by "
                                f"{on_theirs:.2e}")
            if vs_ort > 1e-2:
                failures.append(f"{tag} data set {k}: Tessera and ONNX Runtime differ by {vs_ort:.2e}")
            if drop > 5e-2:
                failures.append(f"{tag} data set {k}: accuracy drop {drop:.2e}")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
