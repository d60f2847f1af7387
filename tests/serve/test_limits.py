"""`tessera serve --timeout-ms`, the per-request deadline (the v2 "timeout" parameter, microseconds) and the
resource-limit flags: an endless Loop request ends with an error when its run's deadline passes, and the same model
version keeps serving."""
import os

import numpy as np
import onnx
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from onnx import TensorProto, helper, numpy_helper
from tritonclient.utils import InferenceServerException


def write_counting_loop_model(repo):
    """limit: int64 [1] -> v = Loop(no trip count, cond true) adding 1 to v while i < limit."""
    info = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Less", ["i", "limit"], ["cond_out"], name="keep_going"),
         helper.make_node("Add", ["v_in", "one"], ["v_out"], name="increment")],
        "body", [info("i", TensorProto.INT64, []), info("cond_in", TensorProto.BOOL, []),
                 info("v_in", TensorProto.FLOAT, [1])],
        [info("cond_out", TensorProto.BOOL, [1]), info("v_out", TensorProto.FLOAT, [1])],
        initializer=[numpy_helper.from_array(np.ones(1, np.float32), "one")])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["", "go", "v0"], ["v"], name="loop", body=body)], "g",
        [info("limit", TensorProto.INT64, [1])], [info("v", TensorProto.FLOAT, [1])],
        initializer=[numpy_helper.from_array(np.zeros(1, np.float32), "v0"),
                     numpy_helper.from_array(np.array(True), "go")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    os.makedirs(f"{repo}/loop/1")
    onnx.save(model, f"{repo}/loop/1/model.onnx")


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
