#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
# or replays the findings kept in fuzz/regressions/TARGET: scripts/fuzz.sh TARGET replay
# TARGET: model_loader, tensor_proto or npy (fuzz/*_fuzzer.cpp). Builds with clang, ASan and UBSan into
# ./build-fuzz, starts from the seed corpus fuzz/corpus/TARGET (new inputs go to build-fuzz/corpus/TARGET,
# never into the repository) and writes crashes to build-fuzz/findings/TARGET/. Exit status: libFuzzer's
# (0 when nothing was found). A longer run is the same command with more seconds, e.g. 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh model_loader|tensor_proto|npy SECONDS [libFuzzer options...]" >&2
  exit 2
fi
target="$1"
seconds="$2"
shift 2
[ -f "fuzz/${target}_fuzzer.cpp" ] || { echo "fuzz.sh: no target '$target' (fuzz/${target}_fuzzer.cpp)" >&2; exit 2; }
export CCACHE_BASEDIR="$PWD"
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DTESSERA_BUILD_FUZZERS=ON -DTESSERA_BUILD_TESTS=OFF -DTESSERA_BUILD_PYTHON=OFF >/dev/null
ninja -C build-fuzz "fuzz_${target}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
if [ "$seconds" = replay ]; then
  exec "build-fuzz/fuzz/fuzz_${target}" "$@" fuzz/regressions/"${target}"/*
fi
corpus="build-fuzz/corpus/${target}"
findings="build-fuzz/findings/${target}"
mkdir -p "$corpus" "$findings"
exec "build-fuzz/fuzz/fuzz_${target}" -max_total_time="$seconds" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
  -timeout=20 -artifact_prefix="$findings/" -print_final_stats=1 "$@" "$corpus" "fuzz/corpus/${target}"
