#!/usr/bin/env bash
# Installs the Debian packages xgrad needs (as root), or prints the exact apt-get line.
# Usage: scripts/deps.sh [--dev]
#   --dev  also the packages only the checks of scripts/test.sh need: libtorch-dev (the benchmark's
#          twin and the differential tests against libtorch) and clang-16 with its sanitizer and
#          libFuzzer runtimes and its linker, lld-16 (the ASan+UBSan stage and the fuzzers; Debian
#          12's default clang, 14, rejects C++20 lambda captures of structured bindings).
set -euo pipefail
packages=(cmake g++ make libxtensor-dev libxtensor-blas-dev libxsimd-dev xtl-dev libopenblas-dev libtbb-dev
  libfmt-dev libboost-test-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libstb-dev gnuplot-nox dataset-fashion-mnist fortunes python3
  libopenmpi-dev openmpi-bin valgrind)
if [ "${1:-}" = "--dev" ]; then
  packages+=(libtorch-dev clang-16 libclang-rt-16-dev lld-16)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "xgrad: missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
