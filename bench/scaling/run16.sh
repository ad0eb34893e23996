#!/usr/bin/env bash
# The 16-core scaling run (issue 6): run from the repository root on the big machine, after
# bench/scaling/pack.sh filled devbench/ here. Builds the libtorch twin against the PyTorch
# installed there (python3), then runs the whole benchmark at 1, 4, 8 and 16 threads; each
# table also lands in $OUT/t<threads>.txt (OUT defaults to devbench/out).
set -u
OUT=${OUT:-$PWD/devbench/out}
mkdir -p "$OUT"
D=$PWD/devbench
LOG=$OUT/log.txt
exec > >(tee -a "$LOG") 2>&1
T0=$SECONDS
tar -xJf $D/bin.tar.xz -C $D
echo "== machine"; nproc; lscpu | grep -E 'Model name|Socket|Core|Thread|MHz|L2|L3' | cut -c1-120
free -g | head -2
PY=$(command -v python3)
TORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)
$PY -c 'import torch; print("torch", torch.__version__); print(torch.__config__.parallel_info())' 2>/dev/null | head -12
CXX=$(command -v g++ || command -v c++ || command -v clang++)
echo "compiler: $CXX"; $CXX --version | head -1
ABI=$($PY -c 'import torch; print(int(torch.compiled_with_cxx11_abi()))' 2>/dev/null)
echo "== build twin (abi $ABI, torch at $TORCH)"
build() {
  $CXX -O2 -std=$1 -D_GLIBCXX_USE_CXX11_ABI=$ABI -w -I$D/src -I$D/inc \
    -isystem $TORCH/include -isystem $TORCH/include/torch/csrc/api/include \
    $D/src/torch_twin.cpp -o $D/xgrad_bench_torch \
    -L$TORCH/lib -Wl,--no-as-needed -ltorch_cpu -lc10 -Wl,--as-needed -l:libz.so.1 -Wl,-rpath,$TORCH/lib
}
[ -n "$TORCH" ] && { time build c++20 || time build c++17 || echo "TWIN BUILD FAILED"; }
echo "setup took $((SECONDS - T0)) s"
export LD_LIBRARY_PATH=$D/lib
ldd $D/xgrad_bench | grep -E 'not found|openblas|tbb'
B="$D/xgrad_bench --twin $D/xgrad_bench_torch --data $D/data"
for tr in 1:3:150 4:3:110 8:3:100 16:3:100; do
  IFS=: read t r lim <<< "$tr"
  echo "== threads $t (t=$((SECONDS - T0)) s)"
  timeout $lim $B --threads $t --repeat $r > $OUT/t$t.txt 2>>$OUT/err.txt; echo "rc $?"
  cat $OUT/t$t.txt
done
echo "== done (t=$((SECONDS - T0)) s)"
