"""A bounded asyncio load generator for `tessera serve`'s HTTP endpoint: C keep-alive connections, each
sending R inference requests one after another; returns per-request latencies and the errors seen. Used by
the tests (1,000 connections) and by bench/serve_load.py for throughput and latency figures."""
import asyncio
import json
import time


def infer_body(model_inputs):
    """A JSON infer request body from {name: (datatype, shape, flat data)}."""
    return json.dumps({"inputs": [{"name": n, "datatype": d, "shape": s, "data": v}
                                  for n, (d, s, v) in model_inputs.items()]}).encode()


async def _read_response(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, body


async def _connection(host, port, path, body, requests, latencies, errors, start_gate, opened):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as error:
        errors.append(f"connect: {error}")
        return
    finally:
        opened.append(1)
    await start_gate.wait()
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    try:
        for _ in range(requests):
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status, payload = await _read_response(reader)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                errors.append(f"{status}: {payload[:200]!r}")
    except (OSError, ConnectionError, asyncio.IncompleteReadError) as error:
        errors.append(f"io: {error!r}")
    finally:
        writer.close()


async def _run(host, port, path, body, connections, requests):
    latencies, errors, opened = [], [], []
    start_gate = asyncio.Event()
    tasks = [asyncio.create_task(_connection(host, port, path, body, requests, latencies, errors, start_gate, opened))
             for _ in range(connections)]
    # Every connection is open (or has failed to open) before the first request goes.
    while len(opened) < connections:
        await asyncio.sleep(0.01)
    start_gate.set()
    began = time.perf_counter()
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - began


def run_load(host, port, path, body, connections, requests):
    """Runs the load; returns (latencies in seconds, error strings, wall seconds)."""
    return asyncio.run(_run(host, port, path, body, connections, requests))
