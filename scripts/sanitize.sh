#!/usr/bin/env bash
# Sanitizer builds and runs (docs/RELIABILITY.md, "Sanitizers"). Usage:
#   scripts/sanitize.sh [address] [STEP...]   ASan + UBSan in ./build-sanitize (CI runs this after scripts/test.sh)
#   scripts/sanitize.sh thread [STEP...]      TSan in ./build-tsan: the concurrency tests, the conformance data at 2
#                                             intra-op threads, and `tessera serve` under its pytest suite
# STEPs, in order when none is given: configure build unit conformance fuzz replay (address);
# configure build unit conformance serve (thread). Both trees are clang (Debian's clang 14) at -O1 -g with ccache keyed like
# scripts/build.sh, and build only the targets they run: never the Python module or the benchmarks.
# The address tree also carries libFuzzer's coverage instrumentation (fuzzer-no-link), so scripts/fuzz.sh builds
# its fuzz targets in the same tree. A finding stops the script with the sanitizer's report (exit non-zero).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=address
case "${1:-}" in address|thread) mode="$1"; shift ;; esac
steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  if [ "$mode" = address ]; then steps=(configure build unit conformance fuzz replay); else steps=(configure build unit conformance serve); fi
fi
export CCACHE_BASEDIR="$PWD"
# -g makes ccache hash the build folder's absolute path unless told not to: without this, a clone in another
# folder (CI's) would never hit the cache. (Debug info then names the folder that filled the cache.)
export CCACHE_NOHASHDIR=1
jobs="${SANITIZE_JOBS:-2}"
fuzz_targets=(model_loader tensor_proto npy test_data http_request model_config)
# Every sanitizer finding is fatal; leaks are reported at exit (address mode).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# gRPC, abseil and protobuf are Debian's uninstrumented builds: scripts/tsan-suppressions.txt says what it hides and why.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan-suppressions.txt}"

if [ "$mode" = address ]; then
  tree=build-sanitize
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
  link="-fsanitize=address,undefined"
  targets=(tessera_unit_tests tessera_cli)
  for t in "${fuzz_targets[@]}"; do targets+=("fuzz_$t"); done
  fuzzers=ON
else
  tree=build-tsan
  flags="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
  link="-fsanitize=thread"
  targets=(tessera_concurrency_tests tessera_cli)
  fuzzers=OFF
fi

configure() {
  nice cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link" \
    -DTESSERA_BUILD_FUZZERS="$fuzzers" -DTESSERA_BUILD_TESTS=ON -DTESSERA_BUILD_PYTHON=OFF >/dev/null
}

build() {
  local start=$SECONDS
  nice ninja -C "$tree" -j "$jobs" "${targets[@]}"
  echo "sanitize.sh: built ${targets[*]} in $((SECONDS - start)) s"
}

# The whole unit suite (thread mode: the concurrency binary). Tests that cannot run under a sanitizer skip
# themselves (testing::kUnderSanitizer in tests/onnx/test_models.h).
unit() {
  if [ "$mode" = address ]; then
    "$tree/tests/tessera_unit_tests" --gtest_brief=1
  else
    "$tree/tests/tessera_concurrency_tests" --gtest_brief=1
  fi
}

# A conformance subset that touches every kernel family and the control-flow ops at small sizes: the ONNX 1.12
# node tests (the other suites are whole pytorch models, slow under ASan), optimizations on. Under TSan: all four
# suites (small enough there) with 2 intra-op threads, so the kernels' parallel paths run on the pool.
conformance() {
  local data=/usr/share/libonnx-testdata/data
  if [ "$mode" = address ]; then
    "$tree/bin/tessera" conformance "$data/node" "$data/simple" --manifest tests/conformance/manifest.txt --quiet
  else
    "$tree/bin/tessera" conformance "$data/node" "$data/simple" "$data/pytorch-converted" "$data/pytorch-operator" \
      --manifest tests/conformance/manifest.txt --threads 2 --quiet
  fi
}

# Thread mode: the `tessera serve` pytest suite (HTTP, gRPC, batching, reloads, deadlines) against the TSan binary.
# The servers are killed by the tests, so reports go to files ($tree/serve-tsan/report.PID); any report fails.
serve() {
  local reports="$tree/serve-tsan"
  rm -rf "$reports" && mkdir -p "$reports"
  local status=0
  TESSERA_CLI="$PWD/$tree/bin/tessera" TSAN_OPTIONS="$TSAN_OPTIONS:halt_on_error=0:log_path=$PWD/$reports/report" \
    .venv/bin/python -m pytest -q -p no:cacheprovider tests/serve || status=$?
  if grep -l "WARNING: ThreadSanitizer" "$reports"/report.* 2>/dev/null; then
    cat "$reports"/report.* >&2
    echo "sanitize.sh: ThreadSanitizer reported on tessera serve (above; files in $reports)" >&2
    exit 1
  fi
  [ "$status" -eq 0 ] || exit "$status"
  echo "sanitize.sh: tessera serve: no ThreadSanitizer report"
}

# A smoke run of each fuzz target from its seed corpus (a few seconds each), then the kept findings. Each run's
# output goes to build-sanitize/fuzz-smoke-TARGET.log (printed whole when it fails); its last line is shown.
fuzz() {
  for t in "${fuzz_targets[@]}"; do
    local log="$tree/fuzz-smoke-$t.log"
    # A fixed seed: the smoke run replays the same mutations every time (a random one once failed CI on a bug in
    # code the change under test never touched); explore with scripts/fuzz.sh TARGET 3600 or FUZZ_SEED=0 (random).
    if ! scripts/fuzz.sh "$t" "${FUZZ_SMOKE_SECONDS:-5}" -seed="${FUZZ_SEED:-1}" -close_fd_mask=2 >"$log" 2>&1; then
      cat "$log" >&2
      echo "sanitize.sh: fuzz target $t found something (input in $tree/findings/$t/)" >&2
      exit 1
    fi
    echo "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
  done
}

replay() {
  for t in "${fuzz_targets[@]}"; do
    if compgen -G "fuzz/regressions/$t/*" >/dev/null; then scripts/fuzz.sh "$t" replay; fi
  done
}

for step in "${steps[@]}"; do
  case "$step" in
    configure|build|unit|conformance|fuzz|replay|serve) echo "== sanitize.sh $mode: $step"; "$step" ;;
    *) echo "usage: scripts/sanitize.sh [address|thread] [configure|build|unit|conformance|fuzz|replay|serve]..." >&2
       exit 2 ;;
  esac
done
