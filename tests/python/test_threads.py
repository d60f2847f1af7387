"""Several Python threads running one session at once get correct results (the GIL is released during run)."""
import threading

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
