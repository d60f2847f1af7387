#!/usr/bin/env python3
"""`tessera quantize` checked against ONNX Runtime 1.31 on the whole-model tests' models.

Dynamic (`--mode dynamic`), on the transformer encoder (MatMul and Gemm weights), three ways:

1. the weight integers, scales and zero points equal those onnxruntime.quantization.quantize_dynamic writes for
   the same model (same names, same values);
2. the quantized model loads in ONNX Runtime, and Tessera's outputs on it match ONNX Runtime's within quantization
   noise (relative L2 below 1e-2; Tessera fuses each group into DynamicQuantizeMatMul, as ONNX Runtime does), and
   so do both runtimes' outputs on quantize_dynamic's own model;
3. the accuracy drop against the float model's own outputs stays small (relative L2 below 5e-2), for per-tensor
   and per-channel weights.

Static (`--mode static --per-channel`, QDQ), on resnet18 and mobilenet_v2, calibrated on 8 random inputs:
1. the QDQ model loads in ONNX Runtime; Tessera's outputs on it match ONNX Runtime's (relative L2 below 3e-2:
   both fuse the groups into integer convolutions, whose roundings may differ by one step);
2. Tessera runs onnxruntime's quantize_static output as ONNX Runtime does (same bound);
3. the drop from float stays small (relative L2 below 0.1) and the top-1 class agrees on most inputs.

FP16 (`tessera convert-fp16 --keep-io-types`), on resnet18 and the transformer encoder: the converted model runs
in ONNX Runtime and in Tessera with outputs within float16 precision of the float32 model's (relative L2 below
1e-2) and of each other.

ONNX Runtime runs each quantized model as `ort_exact_integers.exact_integer_model` gives it: unchanged, except on
an x86 CPU without VNNI, where its u8s8 products saturate and the weights are moved to uint8 (the same values).

    .venv/bin/python tests/models/quantize_models.py TESSERA_CLI MODEL_TESTS_DIR WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from ort_exact_integers import exact_integer_model
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                      quantize_static)


ort.set_default_logger_severity(3)  # no warnings about the initializers quantize_static leaves unused


def relative_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-30))


def ort_run(path, feeds):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    model = exact_integer_model(onnx.load(path)).SerializeToString()  # no u8s8 saturation (ort_exact_integers.py)
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
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


def quantize_both(cli, model, ours, theirs, per_channel, **onnxruntime_options):
    """`tessera quantize MODEL OURS` and onnxruntime's quantize_dynamic(MODEL, THEIRS), int8 weights, per tensor or
    per channel."""
    subprocess.run([cli, "quantize", model, ours] + (["--per-channel"] if per_channel else []), check=True,
                   stdout=subprocess.DEVNULL)
    quantize_dynamic(model, theirs, weight_type=QuantType.QInt8, per_channel=per_channel, **onnxruntime_options)


def initializers(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def check_dynamic(cli, tests, work, failures):
    folder = os.path.join(tests, "transformer_encoder")
    model = os.path.join(folder, "model.onnx")
    for per_channel in (False, True):
        tag = "per-channel" if per_channel else "per-tensor"
        ours = os.path.join(work, f"tessera-{tag}.onnx")
        theirs = os.path.join(work, f"onnxruntime-{tag}.onnx")
        quantize_both(cli, model, ours, theirs, per_channel, op_types_to_quantize=["MatMul", "Gemm"])
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


class Samples(CalibrationDataReader):
    def __init__(self, name, samples):
        self.feeds = iter([{name: x} for x in samples])

    def get_next(self):
        return next(self.feeds, None)


def check_static(cli, tests, work, failures):
    rng = np.random.default_rng(0)
    for model_name in ("resnet18", "mobilenet_v2"):
        model = os.path.join(tests, model_name, "model.onnx")
        input_name = onnx.load(model, load_external_data=False).graph.input[0].name
        calibration = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(8)]
        validation = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(4)]
        calibration_dir = os.path.join(work, f"calibration-{model_name}")
        for i, x in enumerate(calibration):
            os.makedirs(os.path.join(calibration_dir, f"sample_{i}"), exist_ok=True)
            np.save(os.path.join(calibration_dir, f"sample_{i}", input_name + ".npy"), x)
        ours = os.path.join(work, f"tessera-static-{model_name}.onnx")
        theirs = os.path.join(work, f"onnxruntime-static-{model_name}.onnx")
        subprocess.run([cli, "quantize", model, ours, "--mode", "static", "--calibrate", calibration_dir,
                        "--per-channel"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        quantize_static(model, theirs, Samples(input_name, calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        agree = 0
        for k, x in enumerate(validation):
            feeds = {input_name: x}
            reference = ort_run(model, feeds)
            ort_ours = ort_run(ours, feeds)
            tessera_ours = tessera_run(cli, ours, feeds, work)
            vs_ort = relative_l2(tessera_ours, ort_ours)
            on_theirs = relative_l2(tessera_run(cli, theirs, feeds, work), ort_run(theirs, feeds))
            drop = relative_l2(tessera_ours, reference)
            ort_drop = relative_l2(ort_run(theirs, feeds), reference)
            agree += int(tessera_ours.argmax() == reference.argmax())
            print(f"{model_name} input {k}: Tessera vs ONNX Runtime on Tessera's QDQ model {vs_ort:.2e}, on "
                  f"quantize_static's {on_theirs:.2e}; drop from float: Tessera's model {drop:.2e}, "
                  f"quantize_static's {ort_drop:.2e}")
            for what, value, bound in (("runtimes differ on Tessera's model", vs_ort, 3e-2),
                                       ("runtimes differ on quantize_static's model", on_theirs, 3e-2),
                                       ("accuracy drop", drop, 0.1)):
                if value > bound:
                    failures.append(f"{model_name} input {k}: {what}: {value:.2e} > {bound}")
        print(f"{model_name}: top-1 agrees with float on {agree}/{len(validation)} inputs")
        if agree < len(validation) - 1:
            failures.append(f"{model_name}: top-1 agrees on only {agree}/{len(validation)}")


def check_fp16(cli, tests, work, failures):
    for model_name in ("resnet18", "transformer_encoder"):
        folder = os.path.join(tests, model_name)
        model = os.path.join(folder, "model.onnx")
        converted = os.path.join(work, f"fp16-{model_name}.onnx")
        subprocess.run([cli, "convert-fp16", model, converted, "--keep-io-types"], check=True,
                       stdout=subprocess.DEVNULL)
        proto = onnx.TensorProto()
        with open(os.path.join(folder, "test_data_set_0", "input_0.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        input_name = onnx.load(model, load_external_data=False).graph.input[0].name
        feeds = {input_name: numpy_helper.to_array(proto)}
        reference = ort_run(model, feeds)
        ort_half = ort_run(converted, feeds)
        tessera_half = tessera_run(cli, converted, feeds, work)
        errors = {"Tessera vs float32": relative_l2(tessera_half, reference),
                  "ONNX Runtime vs float32": relative_l2(ort_half, reference),
                  "Tessera vs ONNX Runtime": relative_l2(tessera_half, ort_half)}
        print(f"fp16 {model_name}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
        for what, value in errors.items():
            if not value < 1e-2:
                failures.append(f"fp16 {model_name}: {what} {value:.2e}")


def main() -> int:
    cli, tests, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    failures = []
    check_dynamic(cli, tests, work, failures)
    check_static(cli, tests, work, failures)
    check_fp16(cli, tests, work, failures)
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
