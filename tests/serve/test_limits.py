"""`tessera serve --timeout-ms`, the per-request deadline (the v2 "timeout" parameter, microseconds) and the
resource-limit flags: an endless Loop request ends with an error when its run's deadline passes, and the same model
version keeps serving."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import write_counting_loop_model


def infer(client, limit, timeout=None, protocol=httpclient):
    limit_input = protocol.InferInput("limit", [1], "INT64")
    limit_input.set_data_from_numpy(np.array([limit], np.int64))
    return client.infer("loop", [limit_input], timeout=timeout).as_numpy("v")


def test_timeout_stops_an_endless_loop_and_the_model_keeps_serving(tmp_path, start_server):
    write_counting_loop_model(tmp_path)
    server = start_server(tmp_path, "--timeout-ms", "300")
    client = httpclient.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException, match=r"deadline \(RunOptions timeout of 300 ms\)"):
        infer(client, np.iinfo(np.int64).max)
    assert infer(client, 5)[0] == 6.0


def test_loop_iteration_limit(tmp_path, start_server):
    write_counting_loop_model(tmp_path)
    server = start_server(tmp_path, "--max-loop-iterations", "100")
    client = httpclient.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException, match=r"max_loop_iterations \(100\)"):
        infer(client, 1000)
    assert infer(client, 50)[0] == 51.0


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_a_request_timeout_stops_its_run_and_the_model_keeps_serving(tmp_path, start_server, protocol):
    write_counting_loop_model(tmp_path)
    server = start_server(tmp_path)  # no server-wide --timeout-ms: the request's own deadline stops the run
    if protocol == "http":
        client, module = httpclient.InferenceServerClient(server.http_url), httpclient
    else:
        client, module = grpcclient.InferenceServerClient(server.grpc_url), grpcclient
    with pytest.raises(InferenceServerException, match=r"passed its deadline while running.*node 'loop' \(Loop\)"):
        infer(client, np.iinfo(np.int64).max, timeout=300_000, protocol=module)
    assert infer(client, 5, protocol=module)[0] == 6.0
    assert infer(client, 5, timeout=10_000_000, protocol=module)[0] == 6.0
    # Past the clock's range: no deadline (it used to overflow into one that had already passed).
    assert infer(client, 5, timeout=2**63 - 1, protocol=module)[0] == 6.0
