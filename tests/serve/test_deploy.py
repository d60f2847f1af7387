"""deploy/: the container recipe and the KServe and Kubernetes manifests parse, name the v2 protocol, and
agree with each other and with the server's flags (ports passed as `tessera serve` flags, probes on the
health endpoints)."""
import os
import re
import subprocess

import yaml

from conftest import TESSERA

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "deploy")


def documents(path):
    with open(os.path.join(DEPLOY, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def flag_values(args):
    return {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}


def test_serving_runtime_speaks_v2_on_the_ports_it_opens():
    (runtime,) = documents("kserve/serving-runtime.yaml")
    assert runtime["kind"] == "ServingRuntime"
    assert {"v2", "grpc-v2"} <= set(runtime["spec"]["protocolVersions"])
    assert runtime["spec"]["supportedModelFormats"][0]["name"] == "onnx"
    container = runtime["spec"]["containers"][0]
    assert container["args"][0] == "serve"
    flags = flag_values(container["args"])
    assert flags["--model-repository"] == "/mnt/models"
    assert container["ports"][0]["containerPort"] == int(flags["--http-port"]) == 8080
    assert flags["--grpc-port"] == "9000"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert runtime["spec"]["annotations"]["prometheus.kserve.io/port"] == flags["--metrics-port"]


def test_inference_service_uses_the_runtime():
    (service,) = documents("kserve/inference-service.yaml")
    (runtime,) = documents("kserve/serving-runtime.yaml")
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["protocolVersion"] == "v2" and model["modelFormat"]["name"] == "onnx"


def test_kubernetes_deployment_and_service_agree():
    deployment, service = documents("kubernetes/tessera-serve.yaml")
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    flags = flag_values(container["args"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(flags["--http-port"]), "grpc": int(flags["--grpc-port"]),
                     "metrics": int(flags["--metrics-port"])}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["volumeMounts"][0]["mountPath"] == "/models"


def test_dockerfile_entrypoint_and_ports():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read()
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/tessera", "serve", "--model-repository", "/models"\]$', text, re.M)
    assert re.search(r"^EXPOSE 8000 8001 8002$", text, re.M)
    assert text.startswith("# ") and "FROM debian:12" in text


def test_every_flag_the_manifests_pass_is_a_serve_flag():
    usage = subprocess.run([TESSERA, "--help"], capture_output=True, text=True).stdout
    (runtime,) = documents("kserve/serving-runtime.yaml")
    deployment, _ = documents("kubernetes/tessera-serve.yaml")
    args = runtime["spec"]["containers"][0]["args"] + deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    for flag in (a for a in args if a.startswith("--")):
        assert flag in usage, flag
