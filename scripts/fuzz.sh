#!/usr/bin/env bash
# libFuzzer runs of the fuzz targets in fuzz/ (README "Development"; issue 19).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  time per target (default 60), passed as -max_total_time
#   TARGET   any of: safetensors idx checkpoint ops (default: all four)
# Environment:
#   XGRAD_FUZZ_CXX    the clang++ to use (default: the newest clang++-N >= 16 found, else clang++).
#                     xgrad's sources capture structured bindings in lambdas (C++20), which
#                     clang accepts from version 16: on Debian 12, `apt-get install clang-16
#                     libclang-rt-16-dev` (Debian's default clang is 14).
#   XGRAD_FUZZ_BUILD  the build directory (default build-fuzz, next to this checkout's build/)
#   XGRAD_FUZZ_JOBS   parallel compile jobs (default 2)
#   XGRAD_FUZZ_ARGS   extra libFuzzer flags, e.g. "-jobs=4 -workers=4" or "-only_ascii=1"
#
# Configures the build directory with clang++, XGRAD_FUZZ=ON and XGRAD_SANITIZE=address,undefined
# (the xgrad libraries get -fsanitize=fuzzer-no-link,address,undefined; each fuzz_<name> is
# linked with -fsanitize=fuzzer,address,undefined), builds fuzz_<name>, then fuzzes each target
# on a working copy of its seed corpus (<build>/corpus/<name>, seeded from fuzz/corpus/<name>
# and kept between runs, so longer runs resume where the last stopped) and prints the
# executions reached. A crash, leak, sanitizer report, timeout (10 s per input) or broken
# invariant stops that target with its reproducer in <build>/artifacts/<name>/; replay it with
# `<build>/fuzz/fuzz_<name> FILE` (or the g++ build's fuzz_<name>_replay FILE). Exits 1 when a
# target failed to build or found something.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors idx checkpoint ops)
build="${XGRAD_FUZZ_BUILD:-$root/build-fuzz}"
jobs="${XGRAD_FUZZ_JOBS:-2}"

cxx="${XGRAD_FUZZ_CXX:-}"
if [ -z "$cxx" ]; then
  for v in 20 19 18 17 16; do
    if command -v "clang++-$v" > /dev/null; then cxx="clang++-$v"; break; fi
  done
  [ -z "$cxx" ] && cxx=clang++
fi
command -v "$cxx" > /dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-16 libclang-rt-16-dev)" >&2; exit 1; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS=-gline-tables-only "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
    -DXGRAD_FUZZ=ON -DXGRAD_SANITIZE=address,undefined -DXGRAD_BUILD_TESTS=ON \
    -DXGRAD_BUILD_EXAMPLES=OFF -DXGRAD_BUILD_TUTORIALS=OFF -DXGRAD_BUILD_BENCH=OFF \
    -DXGRAD_BUILD_DISTRIBUTED=OFF || exit 1
fi

# Symbolised reports: ASan looks for llvm-symbolizer on PATH, which clang-N packages do not
# always put there.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in "llvm-symbolizer-${cxx##*-}" llvm-symbolizer llvm-symbolizer-14; do
    if command -v "$s" > /dev/null; then export ASAN_SYMBOLIZER_PATH="$(command -v "$s")"; break; fi
  done
fi

status=0
built=()
for t in "${targets[@]}"; do
  if cmake --build "$build" -j "$jobs" --target "fuzz_$t"; then
    built+=("$t")
  else
    echo "fuzz.sh: fuzz_$t does not build with $cxx" >&2
    status=1
  fi
done

summary=()
for t in "${built[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  cp -n "$root/fuzz/corpus/$t/"* "$corpus/" 2> /dev/null
  log="$build/fuzz-$t.log"
  echo "== fuzz_$t: ${seconds}s on $corpus (log: $log)"
  # shellcheck disable=SC2086
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts" ${XGRAD_FUZZ_ARGS:-} "$corpus" > "$log" 2>&1
  rc=$?
  execs="$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')"
  if [ $rc -eq 0 ]; then
    summary+=("fuzz_$t: $execs executions, no failure")
  else
    summary+=("fuzz_$t: FAILED (exit $rc) after $execs executions; see $log and $artifacts")
    status=1
  fi
done
echo "== summary (${seconds}s per target)"
for s in "${summary[@]}"; do echo "$s"; done
exit $status
