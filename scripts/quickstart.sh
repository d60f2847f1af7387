#!/usr/bin/env bash
# Installs what is needed, builds Tessera, exports a small CNN from PyTorch (random weights, fixed seed)
# and runs it end to end, printing its outputs and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
mkdir -p build/demo
/usr/bin/python3 scripts/make_demo_model.py build/demo/small_cnn.onnx
./build/bin/tessera info build/demo/small_cnn.onnx
./build/bin/tessera run build/demo/small_cnn.onnx --random-inputs --repeat 50
