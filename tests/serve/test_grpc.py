"""`tessera serve` over gRPC (inference.GRPCInferenceService) with tritonclient: every datatype through
raw_input_contents, typed contents, metadata, config, statistics, repository calls and error codes."""
import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import DATATYPES, write_add_model, write_identity_model
from test_http import sample


@pytest.fixture
def identity_server(tmp_path, start_server):
    write_identity_model(tmp_path)
    return start_server(tmp_path)


def test_health_metadata_config(identity_server):
    client = grpcclient.InferenceServerClient(identity_server.grpc_url)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("identity")
    assert client.get_server_metadata().name == "tessera"
    metadata = client.get_model_metadata("identity")
    assert list(metadata.versions) == ["1"]
    assert {(t.name, t.datatype, tuple(t.shape)) for t in metadata.inputs} >= {("in_BF16", "BF16", (-1, 3))}
    config = client.get_model_config("identity").config
    assert config.max_batch_size == 8 and config.platform == "onnxruntime_onnx"
    index = client.get_model_repository_index()
    assert [(m.name, m.state) for m in index.models] == [("identity", "READY")]


def test_every_datatype_round_trips(identity_server):
    client = grpcclient.InferenceServerClient(identity_server.grpc_url)
    inputs = []
    for dt in DATATYPES:
        data = sample(dt, rows=3)
        tensor = grpcclient.InferInput(f"in_{dt}", list(data.shape), dt)
        tensor.set_data_from_numpy(data)
        inputs.append(tensor)
    result = client.infer("identity", inputs, request_id="g1")
    assert result.get_response().id == "g1"
    for dt in DATATYPES:
        got, expected = result.as_numpy(f"out_{dt}"), sample(dt, rows=3)
        if dt == "BYTES":
            assert got.tolist() == expected.tolist()
        else:
            np.testing.assert_array_equal(got, expected)


def test_typed_contents(tmp_path, start_server):
    """Clients other than tritonclient send InferTensorContents instead of raw bytes."""
    write_add_model(tmp_path, "add", "max_batch_size: 2\n")
    server = start_server(tmp_path)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(server.grpc_url))
    request = service_pb2.ModelInferRequest(model_name="add")
    for name, values in (("x", [1, 2, 3, 4]), ("y", [10, 10, 10, 10])):
        tensor = request.inputs.add(name=name, datatype="FP32", shape=[1, 4])
        tensor.contents.fp32_contents.extend(values)
    response = stub.ModelInfer(request)
    assert np.frombuffer(response.raw_output_contents[0], np.float32).tolist() == [11, 12, 13, 14]
    del request.inputs[1].contents.fp32_contents[:]
    request.inputs[1].contents.fp32_contents.extend([1, 2, 3])
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "needs 4 elements" in error.value.details()


def test_error_codes(identity_server):
    client = grpcclient.InferenceServerClient(identity_server.grpc_url)
    tensor = grpcclient.InferInput("in_FP32", [1, 5], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 5), np.float32))
    with pytest.raises(InferenceServerException, match="NOT_FOUND.*unknown model 'missing'"):
        client.infer("missing", [tensor])
    with pytest.raises(InferenceServerException, match="NOT_FOUND.*no version '4'"):
        client.get_model_metadata("identity", "4")
    with pytest.raises(InferenceServerException, match=r"INVALID_ARGUMENT.*in_FP32.*\[1,5\].*\[-1,3\]"):
        client.infer("identity", [tensor])
    with pytest.raises(InferenceServerException, match="not allowed"):
        client.unload_model("identity")  # none mode
    assert client.is_server_live()


def test_statistics(tmp_path, start_server):
    write_add_model(tmp_path, "add", "max_batch_size: 2\n")
    server = start_server(tmp_path)
    client = grpcclient.InferenceServerClient(server.grpc_url)
    inputs = [grpcclient.InferInput(n, [2, 4], "FP32") for n in ("x", "y")]
    for tensor in inputs:
        tensor.set_data_from_numpy(np.ones((2, 4), np.float32))
    for _ in range(3):
        client.infer("add", inputs)
    stats = client.get_inference_statistics("add").model_stats[0]
    assert stats.inference_count == 6 and stats.execution_count == 3
    assert stats.inference_stats.success.count == 3
    assert [b.batch_size for b in stats.batch_stats] == [2]


def test_typed_integer_contents_out_of_range(identity_server):
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(identity_server.grpc_url))
    request = service_pb2.ModelInferRequest(model_name="identity")
    tensor = request.inputs.add(name="in_INT8", datatype="INT8", shape=[1, 3])
    tensor.contents.int_contents.extend([1, 300, 3])
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "element 1 (300) is out of range for int8" in error.value.details()


def test_sigterm_finishes_grpc_calls_waiting_in_a_batch(tmp_path, start_server):
    import concurrent.futures
    import time
    write_add_model(tmp_path, "add", """
max_batch_size: 8
dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 1000000 }
""")
    server = start_server(tmp_path)

    def call(value):
        client = grpcclient.InferenceServerClient(server.grpc_url)
        inputs = [grpcclient.InferInput(n, [1, 4], "FP32") for n in ("x", "y")]
        inputs[0].set_data_from_numpy(np.full((1, 4), value, np.float32))
        inputs[1].set_data_from_numpy(np.zeros((1, 4), np.float32))
        return client.infer("add", inputs).as_numpy("z").tolist()

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        pending = [pool.submit(call, v) for v in range(3)]
        time.sleep(0.4)  # all three wait for the batch to fill
        assert server.stop() == 0
        assert [p.result() for p in pending] == [[[float(v)] * 4] for v in range(3)]
