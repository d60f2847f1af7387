"""Throughput and p50/p99 latency of `tessera serve` under load, over HTTP (binary tensor extension) and gRPC
(raw contents), with and without dynamic batching, at several client concurrencies, beside a baseline: the
same model in onnxruntime's Python wheel behind a minimal HTTP server (bench/onnxruntime_v2_server.py), in
one run. Also prints the server's resident memory after loading and after the run. Models: a small MLP made
here, and resnet50 / bert_base from bench/export_models.py (bench/models/, batch 1 inputs).

    .venv/bin/python bench/serve_load.py --models mlp --seconds 2 --concurrency 1 8 64
    .venv/bin/python bench/serve_load.py --models resnet50,bert_base --models-dir bench/models --seconds 5
    .venv/bin/python bench/serve_load.py --models mlp --concurrency 64 --no-baseline --repeat 5   # a soak: RSS per row
"""
import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import numpy as np
import onnx
import onnx.helper as helper
from onnx import TensorProto, numpy_helper
from tritonclient.grpc import service_pb2, service_pb2_grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "serve"))
import conftest  # noqa: E402  (the tests' server wrapper)

HERE = os.path.dirname(os.path.abspath(__file__))
DATATYPE = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32"}


def write_mlp(path):
    """[N, 256] -> MatMul 256x256 -> Relu -> MatMul 256x256 (random weights, fixed seed)."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((256, 256)).astype(np.float32) / 16, f"w{i}") for i in (1, 2)]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 256])], initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return {"x": np.random.default_rng(1).standard_normal((1, 256)).astype(np.float32)}


def prepare_model(name, models_dir, folder):
    """Puts model `name` in `folder` (as 1/model.onnx); returns its batch-1 inputs {name: array}."""
    os.makedirs(f"{folder}/1")
    if name == "mlp":
        return write_mlp(f"{folder}/1/model.onnx")
    with open(os.path.join(models_dir, "manifest.json")) as f:
        entry = json.load(f)["models"][name]
    os.symlink(os.path.abspath(os.path.join(models_dir, entry["model"])), f"{folder}/1/model.onnx")
    return {i: np.load(os.path.join(models_dir, p)) for i, p in entry["files"]["1"].items()}


def write_config(folder, batching, max_batch):
    with open(f"{folder}/config.pbtxt", "w") as f:
        f.write(f"max_batch_size: {max_batch}\n")
        if batching:
            f.write(f"dynamic_batching {{ preferred_batch_size: [ {max_batch} ] max_queue_delay_microseconds: 2000 }}\n")


def binary_request(model, inputs):
    header = json.dumps({"inputs": [{"name": n, "datatype": DATATYPE[a.dtype], "shape": list(a.shape),
                                     "parameters": {"binary_data_size": a.nbytes}} for n, a in inputs.items()],
                         "outputs": [], "parameters": {"binary_data_output": True}}).encode()
    body = header + b"".join(a.tobytes() for a in inputs.values())
    return (f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: {len(header)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def http_client(port, request, stop_at, latencies, errors):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                errors.append(status)
        writer.close()
    except (OSError, IndexError, asyncio.IncompleteReadError) as error:
        errors.append(repr(error))


async def grpc_client(stub, request, stop_at, latencies, errors):
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        try:
            await stub.ModelInfer(request)
        except grpc.RpcError as error:
            errors.append(error.code())
        latencies.append(time.perf_counter() - began)


async def measure(protocol, port, model, inputs, concurrency, seconds):
    latencies, errors = [], []
    stop_at = time.perf_counter() + seconds
    began = time.perf_counter()
    if protocol == "gRPC":
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[
                ("grpc.max_receive_message_length", 1 << 30)]) as channel:
            stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
            request = service_pb2.ModelInferRequest(model_name=model)
            for name, array in inputs.items():
                request.inputs.add(name=name, datatype=DATATYPE[array.dtype], shape=list(array.shape))
                request.raw_input_contents.append(array.tobytes())
            await asyncio.gather(*[grpc_client(stub, request, stop_at, latencies, errors) for _ in range(concurrency)])
    else:
        request = binary_request(model, inputs)
        await asyncio.gather(*[http_client(port, request, stop_at, latencies, errors) for _ in range(concurrency)])
    wall = time.perf_counter() - began
    latencies.sort()
    return {"throughput": len(latencies) / wall, "p50": latencies[len(latencies) // 2] * 1e3,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
            "requests": len(latencies), "errors": len(errors)}


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_baseline(model_path, name):
    port = free_port()
    process = subprocess.Popen([sys.executable, os.path.join(HERE, "onnxruntime_v2_server.py"), model_path, name, str(port)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process, port


def cpu_description():
    name, flags = "unknown", []
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and name == "unknown":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = [x for x in line.split(":", 1)[1].split() if x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16")]
    return f"{name} ({os.cpu_count()} cores; {' '.join(flags)})"


def row(label, batching, concurrency, r, rss_mb):
    print(f"{label:28} {batching:9} {concurrency:7d} {r['throughput']:9.1f} {r['p50']:9.2f} {r['p99']:9.2f} "
          f"{r['requests']:8d} {r['errors']:6d} {rss_mb:8.0f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessera", default=os.path.join(HERE, "..", "build", "bin", "tessera"))
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--models-dir", default=os.path.join(HERE, "models"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole matrix this many times (a soak)")
    args = parser.parse_args()
    conftest.TESSERA = args.tessera
    print(f"CPU: {cpu_description()}; {args.seconds:g} s per row, batch-1 requests, binary tensors")
    print(f"{'server / protocol':28} {'batching':9} {'clients':>7} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'requests':>8} {'errors':>6} {'RSS MB':>8}")
    with tempfile.TemporaryDirectory() as repo:
        inputs = {}
        for name in args.models.split(","):
            inputs[name] = prepare_model(name, args.models_dir, f"{repo}/{name}")
            write_config(f"{repo}/{name}", False, args.max_batch)
            os.makedirs(f"{repo}/{name}_batched")
            os.symlink(f"{repo}/{name}/1", f"{repo}/{name}_batched/1")
            write_config(f"{repo}/{name}_batched", True, args.max_batch)
        server = conftest.Server(repo)
        try:
            start_mb = resident_mb(server.process.pid)
            for name in [n for _ in range(args.repeat) for n in inputs]:
                for protocol, port in (("HTTP", server.ports["HTTP"]), ("gRPC", server.ports["gRPC"])):
                    for batching in ("off", "dynamic"):
                        model = name if batching == "off" else f"{name}_batched"
                        for concurrency in args.concurrency:
                            r = asyncio.run(measure(protocol, port, model, inputs[name], concurrency, args.seconds))
                            row(f"{name} tessera {protocol}", batching, concurrency, r, resident_mb(server.process.pid))
                if not args.no_baseline:
                    baseline, port = start_baseline(f"{repo}/{name}/1/model.onnx", name)
                    try:
                        for concurrency in args.concurrency:
                            r = asyncio.run(measure("HTTP", port, name, inputs[name], concurrency, args.seconds))
                            row(f"{name} onnxruntime+http.server", "off", concurrency, r, resident_mb(baseline.pid))
                    finally:
                        baseline.terminate()
                        baseline.wait()
            print(f"tessera serve resident memory: {start_mb:.0f} MB after loading, "
                  f"{resident_mb(server.process.pid):.0f} MB after the run")
        finally:
            print(f"tessera serve stopped with exit code {server.stop()}")


if __name__ == "__main__":
    main()
