#!/usr/bin/env bash
# Packs what the 16-core scaling run needs into devbench/ (git-ignored): xgrad_bench from
# build/ with the shared libraries it loads, the libtorch twin's source (built there against
# that machine's libtorch), zlib's headers and the Fashion-MNIST training files. Then run
# `bash bench/scaling/run16.sh` there from the repository root, with devbench/ carried along.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf devbench && mkdir -p devbench/lib devbench/src devbench/inc devbench/data
cp build/bench/xgrad_bench devbench/ && strip devbench/xgrad_bench
for l in $(ldd build/bench/xgrad_bench | awk '/=>/ {print $3}' | grep -E 'libfmt|libopenblas|libtbb|libgfortran|libquadmath'); do
  cp -L "$l" devbench/lib/
done
cp -L /lib/x86_64-linux-gnu/libtbbmalloc.so.2 devbench/lib/ 2>/dev/null || true
cp bench/torch_twin.cpp bench/bench_common.hpp devbench/src/
cp /usr/include/zlib.h /usr/include/zconf.h devbench/inc/ 2>/dev/null || cp /usr/include/x86_64-linux-gnu/zconf.h devbench/inc/
cp /usr/share/datasets/fashion-mnist/train-* devbench/data/
(cd devbench && tar -cJf bin.tar.xz xgrad_bench lib && rm -rf xgrad_bench lib)
du -sh devbench
