"""The benchmark scripts' shared round runner (bench/side_by_side.py's run_round), which side_by_side.py and
quantized_side_by_side.py both call: the command it builds for each runtime, with and without a --precision option
in the caller's arguments (quantized_side_by_side.py has none; run_round once required it). No model runs: the
subprocess call is replaced by one that records the command and answers with a bench JSON line."""
import importlib.util
import os
import subprocess
import types

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")


def load_side_by_side():
    spec = importlib.util.spec_from_file_location("side_by_side", os.path.join(BENCH, "side_by_side.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded_round(monkeypatch, runtime, args):
    """run_round's result and the command it ran, with subprocess.run answering {"median_ms": 1.5}."""
    module = load_side_by_side()
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, stdout='{"median_ms": 1.5}\n', stderr="")

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    result = module.run_round(runtime, "model.onnx", ["x=x.npy"], 2, args)
    assert len(commands) == 1
    return result, commands[0]


def option(command, name):
    return command[command.index(name) + 1]


def test_tessera_round_without_a_precision_option_runs_float32(monkeypatch):
    args = types.SimpleNamespace(tessera="tessera", warmup=1, iters=3, timeout=10)
    result, command = recorded_round(monkeypatch, "tessera", args)
    assert result == {"median_ms": 1.5}
    assert command[:3] == ["tessera", "bench", "model.onnx"]
    assert option(command, "--precision") == "fp32"
    assert option(command, "--threads") == "2" and option(command, "--iters") == "3"
    assert option(command, "--input") == "x=x.npy" and command[-1] == "--json"


def test_peer_round_passes_the_callers_precision(monkeypatch):
    args = types.SimpleNamespace(tessera="tessera", warmup=1, iters=3, timeout=10, precision="bf16")
    result, command = recorded_round(monkeypatch, "openvino", args)
    assert result == {"median_ms": 1.5}
    assert "_worker" in command and "openvino" in command
    assert option(command, "--precision") == "bf16"
