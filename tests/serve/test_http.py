"""`tessera serve` over HTTP/REST: tritonclient round trips of every datatype (JSON and binary), metadata,
config, statistics, and raw requests that must fail with the right 4xx and a message."""
import http.client
import json
import socket

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import DATATYPES, write_add_model, write_identity_model


def sample(dt, rows=2):
    """Test data of protocol datatype `dt`, shape [rows, 3], with values that exercise the type's range."""
    if dt == "BYTES":
        return np.array([[b"", b"a\x00b", "é".encode()]] * rows, dtype=np.object_)
    if dt == "BOOL":
        return np.array([[True, False, True]] * rows)
    if dt == "BF16":
        return np.array([[1.5, -2.0, 3.0e38]] * rows, dtype=ml_dtypes.bfloat16)
    numpy_type = DATATYPES[dt][1]
    info = np.iinfo(numpy_type) if np.issubdtype(numpy_type, np.integer) else np.finfo(numpy_type)
    return np.array([[info.min, 0, info.max]] * rows, dtype=numpy_type)


@pytest.fixture
def identity_server(tmp_path, start_server):
    write_identity_model(tmp_path)
    return start_server(tmp_path)


def raw_request(server, method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.ports["HTTP"], timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload


def test_health_and_server_metadata(identity_server):
    client = httpclient.InferenceServerClient(identity_server.http_url)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("identity")
    metadata = client.get_server_metadata()
    assert metadata["name"] == "tessera" and "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_and_config(identity_server):
    client = httpclient.InferenceServerClient(identity_server.http_url)
    metadata = client.get_model_metadata("identity")
    assert metadata["versions"] == ["1"] and metadata["platform"] == "onnxruntime_onnx"
    inputs = {t["name"]: t for t in metadata["inputs"]}
    assert inputs["in_FP16"] == {"name": "in_FP16", "datatype": "FP16", "shape": [-1, 3]}
    assert inputs["in_BYTES"]["datatype"] == "BYTES"
    config = client.get_model_config("identity")
    assert config["max_batch_size"] == 8 and config["backend"] == "onnxruntime"
    assert client.get_model_metadata("identity", "1")["name"] == "identity"


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_every_datatype_round_trips(identity_server, binary):
    client = httpclient.InferenceServerClient(identity_server.http_url)
    inputs, outputs = [], []
    for dt in DATATYPES:
        data = sample(dt)
        tensor = httpclient.InferInput(f"in_{dt}", list(data.shape), dt)
        # tritonclient has no JSON form for BF16: it goes binary in the JSON request too.
        tensor.set_data_from_numpy(data, binary_data=binary or dt == "BF16")
        inputs.append(tensor)
        outputs.append(httpclient.InferRequestedOutput(f"out_{dt}", binary_data=binary))
    result = client.infer("identity", inputs, outputs=outputs, request_id="r1")
    assert result.get_response()["id"] == "r1"
    for tensor in inputs:
        dt = tensor.datatype()
        got = result.as_numpy(f"out_{dt}")
        expected = sample(dt)
        if dt == "BYTES":  # JSON data comes back as str, binary as bytes
            as_bytes = [[v.encode() if isinstance(v, str) else v for v in row] for row in got.tolist()]
            assert as_bytes == expected.tolist()
        elif dt == "FP16" and not binary:
            np.testing.assert_array_equal(got.astype(np.float16), expected)
        else:
            np.testing.assert_array_equal(got, expected)
        assert result.get_output(f"out_{dt}")["datatype"] == dt


def test_binary_data_output_for_all_outputs(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 2\n")
    server = start_server(tmp_path)
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                                  {"name": "y", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}],
                       "parameters": {"binary_data_output": True}}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.ports["HTTP"], timeout=30)
    connection.request("POST", "/v2/models/add/infer", body=body)
    response = connection.getresponse()
    payload = response.read()
    assert response.status == 200
    # The JSON header first (its length in the response header), then each output's binary data.
    header_length = int(response.getheader("Inference-Header-Content-Length"))
    header = json.loads(payload[:header_length])
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 16
    assert "data" not in header["outputs"][0]
    assert np.frombuffer(payload[header_length:], np.float32).tolist() == [2, 3, 4, 5]


def assert_error(server, status_expected, method, path, body=b"", headers=None, contains=()):
    status, payload = raw_request(server, method, path, body, headers)
    assert status == status_expected, payload
    message = json.loads(payload)["error"]
    for fragment in contains:
        assert fragment in message, message
    return message


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(identity_server):
    s = identity_server
    infer = "/v2/models/identity/infer"
    assert_error(s, 400, "POST", infer, b"{not json", contains=["not a JSON object"])
    assert_error(s, 400, "POST", infer, json.dumps(
        {"inputs": [{"name": "in_FP32", "shape": [2, 4], "datatype": "FP32", "data": [0] * 8}]}).encode(),
        contains=["identity", "in_FP32", "[2,4]", "[-1,3]"])
    assert_error(s, 400, "POST", infer, json.dumps(
        {"inputs": [{"name": "in_FP32", "shape": [1, 3], "datatype": "FP64", "data": [0, 0, 0]}]}).encode(),
        contains=["in_FP32", "FP64", "FP32"])
    assert_error(s, 400, "POST", infer, json.dumps(
        {"inputs": [{"name": "in_FP32", "shape": [1, 3], "datatype": "FP32", "data": [0, 0]}]}).encode(),
        contains=["needs 3 elements"])
    assert_error(s, 400, "POST", infer, json.dumps(
        {"inputs": [{"name": "nope", "shape": [1, 3], "datatype": "FP32", "data": [0, 0, 0]}]}).encode(),
        contains=["no input named 'nope'"])
    assert_error(s, 400, "POST", infer, json.dumps(
        {"inputs": [{"name": "in_FP32", "shape": [9, 3], "datatype": "FP32", "data": [0] * 27}]}).encode(),
        contains=["batch size 9"])
    # Truncated binary body: the JSON claims 12 bytes, 5 arrive.
    header = json.dumps({"inputs": [{"name": "in_FP32", "shape": [1, 3], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 12}}]}).encode()
    assert_error(s, 400, "POST", infer, header + b"\x00" * 5,
                 {"Inference-Header-Content-Length": str(len(header))}, contains=["runs past the end"])
    assert_error(s, 400, "POST", infer, header + b"\x00" * 12,
                 {"Inference-Header-Content-Length": str(len(header) + 100)}, contains=["Inference-Header-Content-Length"])
    assert_error(s, 404, "POST", "/v2/models/missing/infer", b"{}", contains=["unknown model 'missing'"])
    assert_error(s, 404, "GET", "/v2/models/identity/versions/7", contains=["no version '7'"])
    assert_error(s, 404, "GET", "/v2/nothing/here")
    # Still serving, and each of the eight rejected requests for the model counted as a failure (the unknown
    # model, version and endpoint are not the model's).
    status, _ = raw_request(s, "GET", "/v2/health/ready")
    assert status == 200
    stats = httpclient.InferenceServerClient(s.http_url).get_inference_statistics("identity")["model_stats"][0]
    assert stats["inference_stats"]["fail"]["count"] == 8


def test_oversized_body_gets_413(tmp_path, start_server):
    write_identity_model(tmp_path)
    server = start_server(tmp_path, "--max-body-mb", "1")
    # The server answers as soon as it sees the length, so send only the headers and a little body.
    with socket.create_connection(("127.0.0.1", server.ports["HTTP"]), timeout=30) as raw:
        raw.sendall(b"POST /v2/models/identity/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 << 20)
                    + b"x" * 1000)
        reply = b""
        while b"}" not in reply:
            chunk = raw.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"over the limit" in reply
    status, _ = raw_request(server, "GET", "/v2/health/live")
    assert status == 200


def test_statistics_and_versions(tmp_path, start_server):
    write_add_model(tmp_path, "add", 'max_batch_size: 4\nversion_policy: { all: {} }\n', versions=(1, 2))
    server = start_server(tmp_path)
    client = httpclient.InferenceServerClient(server.http_url)
    x = np.ones((1, 4), np.float32)
    inputs = [httpclient.InferInput("x", [1, 4], "FP32"), httpclient.InferInput("y", [1, 4], "FP32")]
    for tensor in inputs:
        tensor.set_data_from_numpy(x)
    assert client.infer("add", inputs).as_numpy("z").tolist() == [[3.0] * 4]  # latest: version 2 adds 1
    assert client.infer("add", inputs, model_version="1").as_numpy("z").tolist() == [[2.0] * 4]
    assert client.get_model_metadata("add")["versions"] == ["1", "2"]
    stats = {s["version"]: s for s in client.get_inference_statistics("add")["model_stats"]}
    assert stats["1"]["inference_count"] == 1 and stats["2"]["inference_count"] == 1
    assert stats["2"]["inference_stats"]["success"]["count"] == 1
    with pytest.raises(InferenceServerException, match="no version '3'"):
        client.infer("add", inputs, model_version="3")


def test_expect_100_continue_gets_the_go_ahead(tmp_path, start_server):
    """curl sends "Expect: 100-continue" before large bodies and waits a second unless told to go on."""
    write_add_model(tmp_path, "add", "max_batch_size: 2\n")
    server = start_server(tmp_path)
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                                  {"name": "y", "shape": [1, 4], "datatype": "FP32", "data": [0, 0, 0, 0]}]}).encode()
    with socket.create_connection(("127.0.0.1", server.ports["HTTP"]), timeout=30) as raw:
        raw.sendall(b"POST /v2/models/add/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body))
        assert raw.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        raw.sendall(body)
        reply = b""
        while b"}]}" not in reply:
            reply += raw.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200") and b'"data":[1.0,2.0,3.0,4.0]' in reply
