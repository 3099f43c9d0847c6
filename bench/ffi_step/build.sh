#!/usr/bin/env bash
# Build the fused LSTM FFI handlers (build/libfused_lstm.so) and the kernel
# micro-benchmark (build/micro). Needs g++ and jax's FFI headers; the BLAS (numpy's
# bundled OpenBLAS) is found at run time with dlopen, nothing is linked.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
INC=$("$PY" -c "import jax; print(jax.ffi.include_dir())")
CXX=${CXX:-g++}
FLAGS=(-O3 -march=native -std=c++17 -fno-math-errno -Wno-attributes -Wno-return-type -I"$INC")
mkdir -p build
"$CXX" "${FLAGS[@]}" -fPIC -shared fused_lstm.cc -o build/libfused_lstm.so -ldl -lpthread
"$CXX" "${FLAGS[@]}" micro.cc -o build/micro -ldl -lpthread
echo "built $(pwd)/build/libfused_lstm.so and build/micro"
