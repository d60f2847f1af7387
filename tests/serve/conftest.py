"""Fixtures for the `tessera serve` tests: small ONNX models made with onnx.helper, Triton-style model
repositories in a temporary folder, and a server process on free ports that is always stopped at the end."""
import os
import re
import signal
import subprocess
import threading
import time

import numpy as np
import onnx
import onnx.helper as helper
import pytest
from onnx import TensorProto, numpy_helper

TESSERA = os.environ.get("TESSERA_CLI", os.path.join(os.path.dirname(__file__), "../../build/bin/tessera"))

# Protocol datatype -> (ONNX element type, numpy dtype of test data, config data type).
DATATYPES = {
    "BOOL": (TensorProto.BOOL, np.bool_, "TYPE_BOOL"),
    "UINT8": (TensorProto.UINT8, np.uint8, "TYPE_UINT8"),
    "UINT16": (TensorProto.UINT16, np.uint16, "TYPE_UINT16"),
    "UINT32": (TensorProto.UINT32, np.uint32, "TYPE_UINT32"),
    "UINT64": (TensorProto.UINT64, np.uint64, "TYPE_UINT64"),
    "INT8": (TensorProto.INT8, np.int8, "TYPE_INT8"),
    "INT16": (TensorProto.INT16, np.int16, "TYPE_INT16"),
    "INT32": (TensorProto.INT32, np.int32, "TYPE_INT32"),
    "INT64": (TensorProto.INT64, np.int64, "TYPE_INT64"),
    "FP16": (TensorProto.FLOAT16, np.float16, "TYPE_FP16"),
    "FP32": (TensorProto.FLOAT, np.float32, "TYPE_FP32"),
    "FP64": (TensorProto.DOUBLE, np.float64, "TYPE_FP64"),
    "BF16": (TensorProto.BFLOAT16, None, "TYPE_BF16"),
    "BYTES": (TensorProto.STRING, np.object_, "TYPE_STRING"),
}


def save_model(path, nodes, inputs, outputs, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def write_identity_model(repo, name="identity", max_batch_size=8):
    """One Identity per protocol datatype: in_<DT> [N, 3] -> out_<DT> [N, 3]."""
    nodes, inputs, outputs, config_inputs, config_outputs = [], [], [], [], []
    for dt, (onnx_type, _, config_type) in DATATYPES.items():
        nodes.append(helper.make_node("Identity", [f"in_{dt}"], [f"out_{dt}"]))
        inputs.append(helper.make_tensor_value_info(f"in_{dt}", onnx_type, ["N", 3]))
        outputs.append(helper.make_tensor_value_info(f"out_{dt}", onnx_type, ["N", 3]))
        config_inputs.append(f'{{ name: "in_{dt}" data_type: {config_type} dims: [ 3 ] }}')
        config_outputs.append(f'{{ name: "out_{dt}" data_type: {config_type} dims: [ 3 ] }}')
    save_model(f"{repo}/{name}/1/model.onnx", nodes, inputs, outputs)
    with open(f"{repo}/{name}/config.pbtxt", "w") as f:
        f.write(f'name: "{name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: {max_batch_size}\n')
        f.write("input [\n  " + ",\n  ".join(config_inputs) + "\n]\n")
        f.write("output [\n  " + ",\n  ".join(config_outputs) + "\n]\n")


def write_add_model(repo, name, config=None, versions=(1,), width=4):
    """z = x + y (+ version number, so versions are told apart), float [N, width]."""
    for version in versions:
        bias = helper.make_tensor("bias", TensorProto.FLOAT, [1], [float(version - 1)])
        nodes = [helper.make_node("Add", ["x", "y"], ["s"]), helper.make_node("Add", ["s", "bias"], ["z"])]
        save_model(
            f"{repo}/{name}/{version}/model.onnx",
            nodes,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width]),
             helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", width])],
            [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", width])],
        )
        model = onnx.load(f"{repo}/{name}/{version}/model.onnx")
        model.graph.initializer.append(bias)
        onnx.save(model, f"{repo}/{name}/{version}/model.onnx")
    if config is not None:
        with open(f"{repo}/{name}/config.pbtxt", "w") as f:
            f.write(config)


def write_counting_loop_model(repo, name="loop", config=None, keep_going="Less"):
    """Model `name`: limit: int64 [1] -> v = Loop(no trip count, cond true) adding 1 to v while i < limit (endless
    for a huge limit; with keep_going="GreaterOrEqual", while i >= limit: endless for a limit <= 0, such as a
    warmup's zero data); `config` is written as its config.pbtxt when given."""
    info = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node(keep_going, ["i", "limit"], ["cond_out"], name="keep_going"),
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
    os.makedirs(f"{repo}/{name}/1")
    onnx.save(model, f"{repo}/{name}/1/model.onnx")
    if config is not None:
        with open(f"{repo}/{name}/config.pbtxt", "w") as f:
            f.write(config)


class Server:
    """A running `tessera serve`; ports are read from its stderr."""

    def __init__(self, repo, *args):
        self.log = []
        self.process = subprocess.Popen(
            [TESSERA, "serve", "--model-repository", str(repo), "--address", "127.0.0.1", "--http-port", "0",
             "--grpc-port", "0", "--metrics-port", "0", *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.ports = {}
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            match = re.match(r"tessera serve: (HTTP|gRPC|metrics) on [\d.]+:(\d+)", line)
            if match:
                self.ports[match.group(1)] = int(match.group(2))
            if line.strip() == "tessera serve: ready":
                break
        else:
            self.kill()
        assert "HTTP" in self.ports, "server did not start:\n" + "".join(self.log)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)

    @property
    def http_url(self):
        return f"127.0.0.1:{self.ports['HTTP']}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.ports['gRPC']}"

    @property
    def metrics_url(self):
        return f"http://127.0.0.1:{self.ports['metrics']}/metrics"

    def stop(self, timeout=60):
        """SIGTERM, then wait: returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_server():
    """start_server(repo, *args) -> Server; every server started is stopped after the test."""
    servers = []

    def start(repo, *args):
        server = Server(repo, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()
