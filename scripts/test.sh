#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: in Release, then with
# AddressSanitizer + UndefinedBehaviorSanitizer (whose build also yields the libFuzzer targets,
# each fuzzed for a fixed time), then the threading tests under ThreadSanitizer.
# README "Development" describes each stage and its time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --dev
stage() { echo "== $1 ($(date -u +%H:%M:%S))"; }

# The libraries, tutorials and bench at -O3; the test executables at -O1, which compiles them
# a fifth faster (they mostly call into the libraries).
stage "Release: build and every test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DXGRAD_BUILD_TESTS=ON -DXGRAD_TEST_CXX_FLAGS=-O1 >/dev/null
cmake --build build -j2
(cd build && ctest --output-on-failure -j2)

# clang++-16, so that this one instrumented build also links the libFuzzer targets (the
# libraries get -fsanitize=fuzzer-no-link). The libraries at -O1, the test executables at -O0
# (half the compile time); line tables for symbolised reports; lld links them 3x faster than
# ld.bfd. No bench here: the Release stage runs it, and its libtorch twin is never instrumented.
stage "ASan+UBSan (clang++-16): build and every test"
cmake -S . -B build-asan -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS=-gline-tables-only -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DXGRAD_TEST_CXX_FLAGS=-O0 \
  -DCMAKE_EXE_LINKER_FLAGS=--ld-path=ld.lld-16 \
  -DXGRAD_BUILD_TESTS=ON -DXGRAD_BUILD_BENCH=OFF -DXGRAD_SANITIZE=address,undefined -DXGRAD_FUZZ=ON >/dev/null
cmake --build build-asan -j2
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2)

# Each libFuzzer target for a fixed time from its committed seed corpus (fixed seed): any
# crash, leak, sanitizer report, hang or broken invariant fails CI with its reproducer.
stage "fuzzing: each target for 30 s"
XGRAD_FUZZ_BUILD=build-asan XGRAD_FUZZ_ARGS=-seed=1 bash scripts/fuzz.sh 30

stage "ThreadSanitizer: the threading tests"
# GCC's ThreadSanitizer on the libraries (-O1) and the threading tests only (-O0). SIMD clones off
# (their ifunc resolvers run before TSan initialises). No suppressions: TBB's code stays
# uninstrumented and its edges are annotated (autograd/include/xgrad/autograd/kernel/parallel.hpp).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DXGRAD_TEST_CXX_FLAGS=-O0 \
  -DXGRAD_SANITIZE=thread -DXGRAD_SIMD_CLONES=OFF -DXGRAD_BUILD_TESTS=ON -DXGRAD_BUILD_EXAMPLES=OFF \
  -DXGRAD_BUILD_TUTORIALS=OFF -DXGRAD_BUILD_BENCH=OFF -DXGRAD_BUILD_DISTRIBUTED=OFF >/dev/null
cmake --build build-tsan -j2 --target autograd_test_kernel autograd_test_probing autograd_test_memory \
  data_test_dataloader integration_test_determinism reliability_test_threading
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -L threading --output-on-failure -j2)
stage "done"
