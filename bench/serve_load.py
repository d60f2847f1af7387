"""Throughput and p50/p99 latency of `tessera serve` under load: a small MLP over HTTP (JSON) and gRPC (raw
contents), with and without dynamic batching, at several client concurrencies. Builds its own model
repository in a temporary folder, starts the server on free ports, prints a table and the CPU.

    .venv/bin/python bench/serve_load.py [--tessera build/bin/tessera] [--seconds 3] [--concurrency 1 8 64]
"""
import argparse
import asyncio
import os
import statistics
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
from conftest import Server  # noqa: E402  (the test fixture's server wrapper)
from http_load import infer_body  # noqa: E402

WIDTH = 256


def write_mlp(repo, name, batching):
    """[N, 256] -> MatMul 256x256 -> Relu -> MatMul 256x256 (random weights, fixed seed)."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((WIDTH, WIDTH)).astype(np.float32) / 16, f"w{i}") for i in (1, 2)]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", WIDTH])], initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    os.makedirs(f"{repo}/{name}/1")
    onnx.save(model, f"{repo}/{name}/1/model.onnx")
    with open(f"{repo}/{name}/config.pbtxt", "w") as f:
        f.write("max_batch_size: 64\n")
        f.write('parameters { key: "intra_op_thread_count" value: { string_value: "1" } }\n')
        f.write("instance_group [ { count: 2 kind: KIND_CPU } ]\n")
        if batching:
            f.write("dynamic_batching { max_queue_delay_microseconds: 500 }\n")


async def http_client(port, path, body, stop_at, latencies, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
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


async def grpc_client(stub, request, stop_at, latencies, errors):
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        try:
            await stub.ModelInfer(request)
        except grpc.RpcError as error:
            errors.append(error.code())
        latencies.append(time.perf_counter() - began)


async def measure(protocol, server, model, concurrency, seconds):
    x = np.random.default_rng(1).standard_normal((1, WIDTH)).astype(np.float32)
    latencies, errors = [], []
    stop_at = time.perf_counter() + seconds
    if protocol == "HTTP":
        body = infer_body({"x": ("FP32", [1, WIDTH], x.ravel().tolist())})
        tasks = [http_client(server.ports["HTTP"], f"/v2/models/{model}/infer", body, stop_at, latencies, errors)
                 for _ in range(concurrency)]
        began = time.perf_counter()
        await asyncio.gather(*tasks)
    else:
        async with grpc.aio.insecure_channel(server.grpc_url) as channel:
            stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
            request = service_pb2.ModelInferRequest(model_name=model)
            request.inputs.add(name="x", datatype="FP32", shape=[1, WIDTH])
            request.raw_input_contents.append(x.tobytes())
            began = time.perf_counter()
            await asyncio.gather(*[grpc_client(stub, request, stop_at, latencies, errors) for _ in range(concurrency)])
    wall = time.perf_counter() - began
    latencies.sort()
    return {"throughput": len(latencies) / wall, "p50": latencies[len(latencies) // 2] * 1e3,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
            "mean": statistics.fmean(latencies) * 1e3, "requests": len(latencies), "errors": len(errors)}


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessera", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "tessera"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    os.environ["TESSERA_CLI"] = args.tessera
    import conftest
    conftest.TESSERA = args.tessera
    with tempfile.TemporaryDirectory() as repo:
        write_mlp(repo, "mlp", batching=False)
        write_mlp(repo, "mlp_batched", batching=True)
        server = Server(repo)
        try:
            print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; model: MLP 256-256-256 (fp32), 1 row per request, "
                  f"2 instances x 1 intra-op thread, {args.seconds:g} s per row")
            print(f"{'protocol':8} {'batching':9} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for protocol in ("HTTP", "gRPC"):
                for model in ("mlp", "mlp_batched"):
                    for concurrency in args.concurrency:
                        r = asyncio.run(measure(protocol, server, model, concurrency, args.seconds))
                        print(f"{protocol:8} {'dynamic' if model.endswith('batched') else 'off':9} {concurrency:7d} "
                              f"{r['throughput']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:6d}", flush=True)
        finally:
            print(f"server stopped with exit code {server.stop()}")


if __name__ == "__main__":
    main()
