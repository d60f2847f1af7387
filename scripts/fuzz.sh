#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
# or replays the findings kept in fuzz/regressions/TARGET: scripts/fuzz.sh TARGET replay
# TARGET: model_loader, tensor_proto, npy, test_data, http_request or model_config (fuzz/*_fuzzer.cpp). Builds in
# the ASan + UBSan tree of scripts/sanitize.sh (./build-sanitize: clang, coverage instrumentation), starts from the
# seed corpus fuzz/corpus/TARGET (new inputs go to build-sanitize/corpus/TARGET, never into the repository) and
# writes crashes to build-sanitize/findings/TARGET/. Exit status: libFuzzer's (0 when nothing was found). A longer
# run is the same command with more seconds, e.g. 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh model_loader|tensor_proto|npy|test_data|http_request|model_config SECONDS|replay [libFuzzer options...]" >&2
  exit 2
fi
target="$1"
seconds="$2"
shift 2
[ -f "fuzz/${target}_fuzzer.cpp" ] || { echo "fuzz.sh: no target '$target' (fuzz/${target}_fuzzer.cpp)" >&2; exit 2; }
tree=build-sanitize
scripts/sanitize.sh address configure >/dev/null
if ! CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 nice ninja -C "$tree" -j "${SANITIZE_JOBS:-2}" "fuzz_${target}" >"$tree/fuzz-build.log" 2>&1; then
  cat "$tree/fuzz-build.log" >&2
  exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
if [ "$seconds" = replay ]; then
  exec "$tree/fuzz/fuzz_${target}" "$@" fuzz/regressions/"${target}"/*
fi
corpus="$tree/corpus/${target}"
findings="$tree/findings/${target}"
mkdir -p "$corpus" "$findings"
exec "$tree/fuzz/fuzz_${target}" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
  -timeout=20 -artifact_prefix="$findings/" -print_final_stats=1 "$@" "$corpus" "fuzz/corpus/${target}"
