#!/usr/bin/env bash
# Builds Tessera and runs every test: unit tests, the ONNX backend conformance suite (optimizations off and
# on), the newer onnx==1.23.2 node tests, whole exported models and hostile models. Needs scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 1800 "$@"
