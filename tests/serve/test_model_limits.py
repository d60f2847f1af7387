"""Per-model limits in config.pbtxt `parameters` (docs/SERVING.md, "Per-model limits"): a model's own deadline and
resource limits stop its requests with 500 INTERNAL naming the limit, while a model without them, served by the
same server, is unaffected; a bad value fails that model's load naming the parameter."""
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import write_add_model, write_counting_loop_model

ENDLESS = np.iinfo(np.int64).max


def limit_parameters(**limits):
    return "".join(f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}\n'
                   for key, value in limits.items())


def count_to(client, model, limit, protocol=httpclient):
    limit_input = protocol.InferInput("limit", [1], "INT64")
    limit_input.set_data_from_numpy(np.array([limit], np.int64))
    return client.infer(model, [limit_input]).as_numpy("v")[0]


def clients(server):
    return [(httpclient.InferenceServerClient(server.http_url), httpclient, "500"),
            (grpcclient.InferenceServerClient(server.grpc_url), grpcclient, "StatusCode.INTERNAL")]


def test_a_models_deadline_stops_its_runs_and_not_another_models(tmp_path, start_server):
    write_counting_loop_model(tmp_path, "bounded", limit_parameters(timeout_ms=200))
    write_counting_loop_model(tmp_path, "free")
    server = start_server(tmp_path, "--timeout-ms", "1500")  # the server's deadline, which "bounded" replaces
    for client, protocol, status in clients(server):
        stopped = r"'loop' \(Loop\).*deadline \(RunOptions timeout of 200 ms\)"
        with pytest.raises(InferenceServerException, match=stopped) as e:
            count_to(client, "bounded", ENDLESS, protocol)
        assert e.value.status() == status
        with pytest.raises(InferenceServerException, match=r"RunOptions timeout of 1500 ms"):
            count_to(client, "free", ENDLESS, protocol)
        assert count_to(client, "bounded", 5, protocol) == 6.0 and count_to(client, "free", 5, protocol) == 6.0


def test_a_models_loop_and_tensor_limits_refuse_its_requests_only(tmp_path, start_server):
    write_counting_loop_model(tmp_path, "few_iterations", limit_parameters(max_loop_iterations=100))
    write_counting_loop_model(tmp_path, "loop")
    write_add_model(tmp_path, "small_tensors", limit_parameters(max_tensor_bytes=64))
    write_add_model(tmp_path, "add", "")
    server = start_server(tmp_path)
    for client, protocol, status in clients(server):
        with pytest.raises(InferenceServerException, match=r"max_loop_iterations \(100\)") as e:
            count_to(client, "few_iterations", 1000, protocol)
        assert e.value.status() == status
        assert count_to(client, "loop", 1000, protocol) == 1001.0
        assert count_to(client, "few_iterations", 50, protocol) == 51.0
        inputs = [protocol.InferInput(name, [8, 4], "FP32") for name in ("x", "y")]  # 128-byte outputs
        for tensor in inputs:
            tensor.set_data_from_numpy(np.ones((8, 4), np.float32))
        too_large = r"128 bytes, more than the session's max_tensor_bytes \(64\)"
        with pytest.raises(InferenceServerException, match=too_large):
            client.infer("small_tensors", inputs)
        assert client.infer("add", inputs).as_numpy("z").tolist() == [[2.0] * 4] * 8


def test_a_models_deadline_bounds_its_warmup(tmp_path, start_server):
    warmup = ('model_warmup [ { name: "zeros" inputs { key: "limit" '
              'value: { data_type: TYPE_INT64 dims: [ 1 ] zero_data: true } } } ]\n')
    write_counting_loop_model(tmp_path, "endless_warmup", limit_parameters(timeout_ms=200) + warmup, "GreaterOrEqual")
    write_counting_loop_model(tmp_path, "loop")
    states = repository_states(start_server(tmp_path))
    assert states["loop"][0] == "READY" and states["endless_warmup"][0] == "UNAVAILABLE"
    assert "warmup 'zeros' failed" in states["endless_warmup"][1]
    assert "deadline (RunOptions timeout of 200 ms)" in states["endless_warmup"][1]


def repository_states(server):
    """{model name: (state, reason)} from the repository index."""
    index = httpclient.InferenceServerClient(server.http_url).get_model_repository_index()
    return {m["name"]: (m["state"], m.get("reason", "")) for m in index}


def test_a_bad_limit_value_fails_that_models_load(tmp_path, start_server):
    write_add_model(tmp_path, "bad", limit_parameters(max_live_bytes="1GiB"))
    write_add_model(tmp_path, "good", limit_parameters(max_live_bytes="1073741824"))
    states = repository_states(start_server(tmp_path))
    assert states["good"][0] == "READY" and states["bad"][0] == "UNAVAILABLE"
    assert "model 'bad': parameter max_live_bytes '1GiB' is not an integer" in states["bad"][1]


def test_a_models_max_model_bytes_refuses_its_file(tmp_path, start_server):
    write_add_model(tmp_path, "tiny_files_only", limit_parameters(max_model_bytes=16))
    write_add_model(tmp_path, "add", "")
    states = repository_states(start_server(tmp_path))
    assert states["add"][0] == "READY" and states["tiny_files_only"][0] == "UNAVAILABLE"
    assert "more than the session's max_model_bytes (16)" in states["tiny_files_only"][1]
