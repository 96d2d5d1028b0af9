#!/bin/bash
# Optional: the native GEMM that prefill uses when it is built (src/kernels/native.ts, native/blas.c).
# Installs Debian's OpenBLAS (headers + library; root or sudo) when its cblas.h is missing, then builds the
# addon. Undo with `rm -rf native/build` (or run any command with DSV32_NATIVE=off).
set -e
cd "$(dirname "$0")/.."
if [ ! -f /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -f /usr/include/cblas.h ] && [ ! -f /usr/include/aarch64-linux-gnu/cblas.h ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y libopenblas-dev
fi
npm run build:native
