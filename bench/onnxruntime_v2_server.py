"""The baseline for bench/serve_load.py: one model in onnxruntime's Python wheel behind a minimal HTTP
server (the standard library's ThreadingHTTPServer) that answers `POST /v2/models/<name>/infer` with the v2
binary tensor extension, as a user without a model server would put it up.

    python bench/onnxruntime_v2_server.py MODEL.onnx NAME PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime

NUMPY_OF_DATATYPE = {"FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "FP16": np.float16}
DATATYPE_OF_NUMPY = {np.dtype(v): k for k, v in NUMPY_OF_DATATYPE.items()}


def main():
    model_path, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

        def log_message(self, *args):
            pass

        def do_POST(self):
            if self.path != f"/v2/models/{name}/infer":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers["Content-Length"]))
            header_length = int(self.headers.get("Inference-Header-Content-Length", len(body)))
            request = json.loads(body[:header_length])
            offset, feeds = header_length, {}
            for tensor in request["inputs"]:
                size = tensor["parameters"]["binary_data_size"]
                feeds[tensor["name"]] = np.frombuffer(body[offset:offset + size], NUMPY_OF_DATATYPE[tensor["datatype"]]
                                                      ).reshape(tensor["shape"])
                offset += size
            outputs = session.run(None, feeds)
            binary = b"".join(o.tobytes() for o in outputs)
            header = json.dumps({"model_name": name, "outputs": [
                {"name": meta.name, "datatype": DATATYPE_OF_NUMPY[o.dtype], "shape": list(o.shape),
                 "parameters": {"binary_data_size": o.nbytes}} for meta, o in zip(session.get_outputs(), outputs)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Inference-Header-Content-Length", str(len(header)))
            self.send_header("Content-Length", str(len(header) + len(binary)))
            self.end_headers()
            self.wfile.write(header + binary)

    ThreadingHTTPServer.request_queue_size = 1024  # the default listen backlog (5) resets concurrent clients
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
