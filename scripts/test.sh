#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: in Release, then with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the threading tests under ThreadSanitizer.
# README "Development" describes each stage and its time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --dev
stage() { echo "== $1 ($(date -u +%H:%M:%S))"; }

stage "Release: build and every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DXGRAD_BUILD_TESTS=ON >/dev/null
cmake --build build -j2
(cd build && ctest --output-on-failure -j2)

# -O1 keeps the instrumented build quick to compile and still fast enough to run. (A clang++-16
# build here would also link the libFuzzer targets, so that CI could fuzz them for a fixed
# time; it is not used yet: see the README's "Fuzzing" entry.)
stage "ASan+UBSan: build and every test"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DXGRAD_BUILD_TESTS=ON \
  -DXGRAD_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j2
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2)

stage "ThreadSanitizer: the threading tests"
# GCC's ThreadSanitizer on the libraries and the threading tests only, at -O1. SIMD clones off
# (their ifunc resolvers run before TSan initialises). No suppressions: TBB's code stays
# uninstrumented and its edges are annotated (autograd/include/xgrad/autograd/kernel/parallel.hpp).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
  -DXGRAD_SANITIZE=thread -DXGRAD_SIMD_CLONES=OFF -DXGRAD_BUILD_TESTS=ON -DXGRAD_BUILD_EXAMPLES=OFF \
  -DXGRAD_BUILD_TUTORIALS=OFF -DXGRAD_BUILD_BENCH=OFF -DXGRAD_BUILD_DISTRIBUTED=OFF >/dev/null
cmake --build build-tsan -j2 --target autograd_test_kernel autograd_test_probing autograd_test_memory \
  data_test_dataloader integration_test_determinism reliability_test_threading
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -L threading --output-on-failure -j2)
stage "done"
