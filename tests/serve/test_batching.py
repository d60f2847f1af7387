"""Dynamic batching, instances and queue policy: concurrent requests are stacked into one run and split back
(seen in the statistics), a bounded queue answers 503 when full, and requests time out in the queue."""
import concurrent.futures
import urllib.request

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import write_add_model


def infer_add(url, rows, value):
    client = httpclient.InferenceServerClient(url)
    inputs = [httpclient.InferInput(n, [rows, 4], "FP32") for n in ("x", "y")]
    inputs[0].set_data_from_numpy(np.full((rows, 4), value, np.float32))
    inputs[1].set_data_from_numpy(np.ones((rows, 4), np.float32), binary_data=True)
    return client.infer("add", inputs).as_numpy("z")


def test_concurrent_requests_are_batched_and_split_back(tmp_path, start_server):
    write_add_model(tmp_path, "add", """
max_batch_size: 16
dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 2000000 }
""")
    server = start_server(tmp_path)
    # Eight requests of 1 row: the batch is complete (preferred size 8) well before the 2 s delay.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda v: infer_add(server.http_url, 1, v), range(8)))
    for value, result in enumerate(results):
        assert result.tolist() == [[value + 1.0] * 4]  # each client gets its own rows back
    stats = httpclient.InferenceServerClient(server.http_url).get_inference_statistics("add")["model_stats"][0]
    assert stats["inference_count"] == 8
    assert stats["execution_count"] < 8
    assert max(b["batch_size"] for b in stats["batch_stats"]) > 1


def test_requests_of_several_rows_are_batched(tmp_path, start_server):
    write_add_model(tmp_path, "add", """
max_batch_size: 8
dynamic_batching { max_queue_delay_microseconds: 300000 }
instance_group [ { count: 2 kind: KIND_CPU } ]
""")
    server = start_server(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda v: infer_add(server.http_url, 2, v), range(4)))
    for value, result in enumerate(results):
        assert result.shape == (2, 4) and (result == value + 1).all()
    stats = httpclient.InferenceServerClient(server.http_url).get_inference_statistics("add")["model_stats"][0]
    assert stats["inference_count"] == 8 and stats["execution_count"] < 4


def test_full_queue_answers_503_and_timeouts_reject(tmp_path, start_server):
    # A one-request queue held for 1 s by the batching delay: the second concurrent request finds it full.
    write_add_model(tmp_path, "add", """
max_batch_size: 4
dynamic_batching {
  preferred_batch_size: [ 4 ]
  max_queue_delay_microseconds: 1000000
  default_queue_policy { max_queue_size: 1 }
}
""")
    server = start_server(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(infer_add, server.http_url, 1, 0)
        import time
        time.sleep(0.3)
        second = pool.submit(infer_add, server.http_url, 1, 0)
        try:
            second.result()
            raise AssertionError("the second request should find the queue full")
        except InferenceServerException as error:
            assert error.status() == "503" or "503" in str(error)
            assert "queue is full" in str(error)
        assert first.result().tolist() == [[1.0] * 4]
    metrics = urllib.request.urlopen(server.metrics_url).read().decode()
    assert 'nv_inference_request_failure{model="add",version="1"} 1' in metrics


def test_queue_timeout(tmp_path, start_server):
    write_add_model(tmp_path, "add", """
max_batch_size: 4
dynamic_batching {
  preferred_batch_size: [ 4 ]
  max_queue_delay_microseconds: 1000000
  default_queue_policy { default_timeout_microseconds: 100000 }
}
""")
    server = start_server(tmp_path)
    try:
        infer_add(server.http_url, 1, 0)
        raise AssertionError("the request should time out in the queue")
    except InferenceServerException as error:
        assert "timed out in the queue" in str(error)
