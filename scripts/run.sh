#!/usr/bin/env bash
# Installs dependencies, builds in Release and runs the main program.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DXGRAD_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 --target xor_mlp
./build/examples/xor_mlp
