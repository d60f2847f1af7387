"""Several Python threads running one session at once get correct results (the GIL is released during run)."""
import threading
import time

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from conftest import cpu_session, make_model, tensor_info


def test_threads_share_one_session(backend):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((64, 64)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
                       [tensor_info("x", TensorProto.FLOAT, ["batch", 64])], [tensor_info("y", TensorProto.FLOAT, ["batch", 64])],
                       initializers=[numpy_helper.from_array(weight, "w")])
    options = backend.SessionOptions()
    options.intra_op_num_threads = 1
    session = cpu_session(backend, model, options)
    failures = []

    def worker(seed):
        local = np.random.default_rng(seed)
        for _ in range(20):
            x = local.standard_normal((int(local.integers(1, 9)), 64)).astype(np.float32)
            (y,) = session.run(None, {"x": x})
            expected = np.tanh(x.astype(np.float64) @ weight.astype(np.float64))
            if y.shape != expected.shape or not np.allclose(y, expected, rtol=1e-4, atol=1e-5):
                failures.append((seed, x.shape))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def _long_session(backend):
    """A chain of 24 MatMuls on float[512,512] (about 0.1 s per run on one thread) and its input."""
    rng = np.random.default_rng(5)
    layers, width = 24, 512
    weights = [numpy_helper.from_array((rng.standard_normal((width, width)) / 23).astype(np.float32), f"w{i}")
               for i in range(layers)]
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"], [f"h{i}"]) for i in range(layers)]
    model = make_model(nodes, [tensor_info("x", TensorProto.FLOAT, [width, width])],
                       [tensor_info(f"h{layers - 1}", TensorProto.FLOAT, [width, width])], initializers=weights)
    options = backend.SessionOptions()
    options.intra_op_num_threads = 1
    return cpu_session(backend, model, options), {"x": rng.standard_normal((width, width)).astype(np.float32)}


def test_run_releases_the_gil(backend):
    """While one thread is inside a long run (one call), another thread keeps running Python code."""
    session, feeds = _long_session(backend)
    started, done = threading.Event(), threading.Event()
    run_seconds = []

    def long_run():
        started.set()
        start = time.perf_counter()
        session.run(None, feeds)
        run_seconds.append(time.perf_counter() - start)
        done.set()

    worker = threading.Thread(target=long_run)
    worker.start()
    started.wait()
    first = last = time.perf_counter()
    while not done.is_set():
        last = time.perf_counter()
    worker.join()
    # A run that held the GIL would keep this loop from running while it lasts (the loop could only run before
    # or after it); released, the loop runs alongside for (nearly) the whole run.
    assert last - first > run_seconds[0] / 2, (last - first, run_seconds[0])


def test_terminate_from_another_thread_stops_a_run_in_flight(backend, errors):
    session, feeds = _long_session(backend)
    start = time.perf_counter()
    session.run(None, feeds)
    full_run = time.perf_counter() - start
    options = backend.RunOptions()
    outcome = []

    def run():
        begin = time.perf_counter()
        try:
            session.run(None, feeds, options)
            outcome.append(("finished", time.perf_counter() - begin))
        except errors.Fail as error:
            outcome.append(("stopped", time.perf_counter() - begin, str(error)))

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(full_run / 5)
    options.terminate = True
    worker.join()
    assert outcome[0][0] == "stopped", outcome
    assert "terminate" in outcome[0][2]
    # Stopped at the next node, well before the run would have ended.
    assert outcome[0][1] < full_run * 0.8, (outcome, full_run)
