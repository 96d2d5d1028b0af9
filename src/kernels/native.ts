// The optional native GEMM (native/blas.c: cblas_sgemm of the system's OpenBLAS, built by
// `npm run setup:native`). WebAssembly SIMD128 tops out near 45 GFLOP/s per thread on this class of machine
// (8 multiply-adds per cycle); OpenBLAS's AVX kernels run prefill-sized products ~2.4× faster. The wasm
// backend hands it products with many rows when the addon is built and never needs it otherwise:
// decode (one row) stays in wasm, where the weights' own formats stream faster than fp32 would.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeGemm {
  /** y[M,N] = x[M,K] · w[N,K]ᵀ in fp32 (row-major operands) */
  sgemm(x: Float32Array, w: Float32Array, y: Float32Array, M: number, N: number, K: number): void;
  /** sets (n > 0) and returns the BLAS thread count */
  threads(n?: number): number;
}

/** From src/kernels (tsx) and dist/kernels (compiled) alike, the package root is 2 levels up. */
export const NATIVE_PATH = fileURLToPath(new URL('../../native/build/Release/dsv32_blas.node', import.meta.url));

let loaded: NativeGemm | null | undefined;

/** The addon, or null when it is not built or DSV32_NATIVE=off; loaded once. */
export function nativeGemm(): NativeGemm | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.DSV32_NATIVE === 'off' || !existsSync(NATIVE_PATH)) return null;
  // OpenBLAS's threads spin for a while after each call; the wasm workers need those cores right after
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  try {
    loaded = createRequire(import.meta.url)(NATIVE_PATH) as NativeGemm;
  } catch (e) {
    process.emitWarning(`dsv32: ${NATIVE_PATH} did not load (${(e as Error).message}); prefill uses the wasm GEMM`);
  }
  return loaded;
}
