"""1,000 concurrent keep-alive connections on loopback, each sending inference requests, and 1,000 concurrent
gRPC calls: no errors, every request answered, and the Prometheus counters add up."""
import resource
import urllib.request

import pytest

from conftest import write_add_model
from http_load import infer_body, run_load

CONNECTIONS = 1000


@pytest.mark.parametrize("batching", ["", "dynamic_batching { max_queue_delay_microseconds: 2000 }"])
def test_thousand_keep_alive_connections(tmp_path, start_server, batching):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2 * CONNECTIONS + 100:
        pytest.skip(f"the open-file limit ({hard}) is too low for {CONNECTIONS} connections on both ends")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * CONNECTIONS)), hard))
    write_add_model(tmp_path, "add", f"max_batch_size: 8\n{batching}\n")
    server = start_server(tmp_path)
    body = infer_body({"x": ("FP32", [1, 4], [1, 2, 3, 4]), "y": ("FP32", [1, 4], [1, 1, 1, 1])})
    latencies, errors, _ = run_load("127.0.0.1", server.ports["HTTP"], "/v2/models/add/infer", body, CONNECTIONS, 3)
    assert errors == []
    assert len(latencies) == 3 * CONNECTIONS
    metrics = urllib.request.urlopen(server.metrics_url).read().decode()
    assert f'nv_inference_request_success{{model="add",version="1"}} {3 * CONNECTIONS}' in metrics
    assert f'nv_inference_count{{model="add",version="1"}} {3 * CONNECTIONS}' in metrics
    assert "# TYPE nv_inference_queue_duration_us counter" in metrics
    assert f'tessera_inference_request_latency_us_bucket{{model="add",version="1",le="+Inf"}} {3 * CONNECTIONS}' in metrics
    assert f'tessera_inference_request_latency_us_count{{model="add",version="1"}} {3 * CONNECTIONS}' in metrics
    exec_line = [l for l in metrics.splitlines() if l.startswith("nv_inference_exec_count{")][0]
    executions = int(exec_line.split()[-1])
    if batching:
        assert executions < 3 * CONNECTIONS  # requests from different connections shared runs
    else:
        assert executions == 3 * CONNECTIONS
    assert server.stop() == 0


def test_many_concurrent_grpc_calls(tmp_path, start_server):
    import asyncio

    import grpc
    import numpy as np
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    write_add_model(tmp_path, "add", "max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 2000 }\n")
    server = start_server(tmp_path)
    request = service_pb2.ModelInferRequest(model_name="add")
    for name in ("x", "y"):
        request.inputs.add(name=name, datatype="FP32", shape=[1, 4])
        request.raw_input_contents.append(np.ones((1, 4), np.float32).tobytes())

    async def run():
        channels = [grpc.aio.insecure_channel(server.grpc_url) for _ in range(4)]
        stubs = [service_pb2_grpc.GRPCInferenceServiceStub(c) for c in channels]
        results = await asyncio.gather(*[stubs[i % 4].ModelInfer(request) for i in range(CONNECTIONS)],
                                       return_exceptions=True)
        for channel in channels:
            await channel.close()
        return results

    results = asyncio.run(run())
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert all(np.frombuffer(r.raw_output_contents[0], np.float32).tolist() == [2.0] * 4 for r in results)
    metrics = urllib.request.urlopen(server.metrics_url).read().decode()
    assert f'nv_inference_request_success{{model="add",version="1"}} {CONNECTIONS}' in metrics
