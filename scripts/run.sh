#!/usr/bin/env bash
# Installs dependencies (the Fashion-MNIST data set included), builds in Release and runs the
# main program: tutorial 06, an MLP trained on the real Fashion-MNIST. Extra arguments go to
# the program (e.g. --epochs 1, --threads 2, --resume out/06_fashion_mnist_mlp/checkpoint.safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target 06_fashion_mnist_mlp
./build/tutorials/06_fashion_mnist_mlp --out out/06_fashion_mnist_mlp "$@"
