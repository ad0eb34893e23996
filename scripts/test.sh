#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: once in Release, once with
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DXGRAD_BUILD_TESTS=ON >/dev/null
cmake --build build -j2
(cd build && ctest --output-on-failure -j2)
# -O1 keeps the instrumented build quick to compile and still fast enough to run.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DXGRAD_BUILD_TESTS=ON \
  -DXGRAD_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j2
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2)
