"""Model repository behaviour: a repository written for Triton's onnxruntime backend served unchanged, a
model without config.pbtxt, explicit load/unload, reload under load without a lost request, poll mode,
and a graceful stop on SIGTERM that finishes the requests in flight."""
import concurrent.futures
import os
import shutil
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import write_add_model
from test_batching import infer_add

# Written as for Triton 24.x with the onnxruntime backend: fields Tessera does not use are skipped with a warning.
TRITON_CONFIG = """
name: "add"
backend: "onnxruntime"
max_batch_size: 8
version_policy: { latest: { num_versions: 2 } }
input [
  { name: "x" data_type: TYPE_FP32 format: FORMAT_NONE dims: [ 4 ] },
  { name: "y" data_type: TYPE_FP32 dims: [ -1 ] }
]
output [ { name: "z" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching { preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100 }
parameters { key: "intra_op_thread_count" value: { string_value: "1" } }
optimization { graph: { level: 1 } }
model_warmup [ {
  name: "zeros" batch_size: 2
  inputs { key: "x" value: { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } }
  inputs { key: "y" value: { data_type: TYPE_FP32 dims: [ 4 ] random_data: true } }
} ]
"""


def test_triton_repository_served_unchanged(tmp_path, start_server):
    write_add_model(tmp_path, "add", TRITON_CONFIG, versions=(1, 2, 3))
    server = start_server(tmp_path)
    assert any("optimization" in line and "ignored" in line for line in server.log)
    client = httpclient.InferenceServerClient(server.http_url)
    assert client.get_model_metadata("add")["versions"] == ["2", "3"]
    assert infer_add(server.http_url, 3, 1).tolist() == [[4.0] * 4] * 3  # version 3 adds 2
    config = client.get_model_config("add")
    assert config["instance_group"][0]["count"] == 2 and config["platform"] == "onnxruntime_onnx"


def test_model_without_config(tmp_path, start_server):
    write_add_model(tmp_path, "add")
    server = start_server(tmp_path)
    config = httpclient.InferenceServerClient(server.http_url).get_model_config("add")
    assert config["max_batch_size"] == 4  # every input and output has a variable first dim (Triton's default)
    assert [i["dims"] for i in config["input"]] == [["4"], ["4"]]
    assert infer_add(server.http_url, 2, 0).tolist() == [[1.0] * 4] * 2


def test_bad_model_leaves_server_not_ready(tmp_path, start_server):
    write_add_model(tmp_path, "add", 'max_batch_size: 4\ninput [ { name: "nope" data_type: TYPE_FP32 dims: [ 4 ] } ]\n')
    server = start_server(tmp_path)
    client = httpclient.InferenceServerClient(server.http_url)
    assert client.is_server_live() and not client.is_server_ready()
    index = client.get_model_repository_index()
    assert index[0]["state"] == "UNAVAILABLE" and "'nope' is not an input of the model" in index[0]["reason"]
    try:
        infer_add(server.http_url, 1, 0)
        raise AssertionError("the model should not be served")
    except InferenceServerException as error:
        assert error.status() == "503" or "not ready" in str(error)


def test_explicit_load_and_unload(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 4\n")
    write_add_model(tmp_path, "other", "max_batch_size: 4\n")
    server = start_server(tmp_path, "--model-control-mode", "explicit", "--load-model", "add")
    client = grpcclient.InferenceServerClient(server.grpc_url)
    assert client.is_model_ready("add") and not client.is_model_ready("other")
    client.load_model("other")
    assert client.is_model_ready("other")
    client.unload_model("add")
    assert not client.is_model_ready("add")
    states = {m.name: m.state for m in client.get_model_repository_index().models}
    assert states == {"add": "UNAVAILABLE", "other": "READY"}
    with_http = httpclient.InferenceServerClient(server.http_url)
    with_http.load_model("add")
    assert with_http.is_model_ready("add")
    try:
        with_http.load_model("absent")
        raise AssertionError("loading a model that is not in the repository must fail")
    except InferenceServerException as error:
        assert "not in the repository" in str(error)


def test_reload_under_load_loses_no_request(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: 500 }\n")
    server = start_server(tmp_path, "--model-control-mode", "explicit", "--load-model", "add")
    stop = threading.Event()
    failures, done = [], [0]

    def client_loop(value):
        while not stop.is_set():
            try:
                assert infer_add(server.http_url, 1, value).tolist() == [[value + 1.0] * 4]
                done[0] += 1
            except Exception as error:  # noqa: BLE001 - every failure is a lost request
                failures.append(repr(error))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for value in range(4):
            pool.submit(client_loop, value)
        control = httpclient.InferenceServerClient(server.http_url)
        for _ in range(5):
            time.sleep(0.2)
            control.load_model("add")  # reload: the new version is swapped in when ready
        time.sleep(0.2)
        stop.set()
    assert failures == []
    assert done[0] > 20


def test_poll_mode_follows_the_folder(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 4\n")
    server = start_server(tmp_path, "--model-control-mode", "poll", "--repository-poll-secs", "1")
    client = httpclient.InferenceServerClient(server.http_url)
    write_add_model(tmp_path, "late", "max_batch_size: 4\n")
    shutil.rmtree(tmp_path / "add")
    deadline = time.time() + 20
    while time.time() < deadline and not (client.is_model_ready("late") and not _known(client, "add")):
        time.sleep(0.2)
    assert client.is_model_ready("late")
    assert not _known(client, "add")


def _known(client, name):
    return any(m["name"] == name for m in client.get_model_repository_index())


def test_sigterm_finishes_requests_in_flight(tmp_path, start_server):
    # The batching delay holds the request in the queue for 1 s: SIGTERM arrives meanwhile.
    write_add_model(tmp_path, "add", """
max_batch_size: 4
dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 1000000 }
""")
    server = start_server(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(infer_add, server.http_url, 1, 5)
        time.sleep(0.3)
        exit_code = server.stop()
        assert pending.result().tolist() == [[6.0] * 4]
    assert exit_code == 0
    assert "tessera serve: stopped\n" in server.log


def test_command_line_errors(tmp_path):
    from conftest import TESSERA
    import subprocess
    missing = subprocess.run([TESSERA, "serve", "--model-repository", str(tmp_path / "absent")],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "is not a folder" in missing.stderr
    usage = subprocess.run([TESSERA, "serve", "--model-repository", str(tmp_path), "--model-control-mode", "sometimes"],
                           capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "none, poll or explicit" in usage.stderr
    usage = subprocess.run([TESSERA, "serve", "--model-repository", str(tmp_path), "--load-model", "m"],
                           capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "--load-model needs --model-control-mode explicit" in usage.stderr


def test_unload_answers_queued_requests_first(tmp_path, start_server):
    # The batching delay holds the request in the queue when the unload comes.
    write_add_model(tmp_path, "add", """
max_batch_size: 4
dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 1000000 }
""")
    server = start_server(tmp_path, "--model-control-mode", "explicit", "--load-model", "add")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(infer_add, server.http_url, 1, 2)
        time.sleep(0.3)
        httpclient.InferenceServerClient(server.http_url).unload_model("add")
        assert pending.result().tolist() == [[3.0] * 4]
    try:
        infer_add(server.http_url, 1, 2)
        raise AssertionError("an unloaded model must not answer")
    except InferenceServerException as error:
        assert "not ready" in str(error) and "unloaded" in str(error)
