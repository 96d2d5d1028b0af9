// Shared helpers of the wasm backend tests: builds the .wasm when missing, backends per test file, random
// stored tensors.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { f32ToBf16 } from '../../formats/dtype.js';
import type { DType } from '../../formats/dtype.js';
import type { StoredTensor } from '../../formats/safetensors.js';
import { WasmBackend, type WasmBackendOptions } from './backend.js';
import { WASM_PATH, WASM_RELAXED_PATH } from './module.js';

export function ensureWasmBuilt(): void {
  if (existsSync(WASM_PATH) && existsSync(WASM_RELAXED_PATH)) return;
  execFileSync(process.execPath, [fileURLToPath(new URL('../../../scripts/build-wasm.mjs', import.meta.url))], { stdio: 'inherit' });
}

/**
 * One wasm backend per option set, created before the file's tests and closed after them. minParallelMacs
 * defaults to 0 so even tiny calls split and the two-thread paths are exercised.
 */
export function useWasmBackends(opts: WasmBackendOptions[]): WasmBackend[] {
  const list: WasmBackend[] = [];
  before(async () => {
    ensureWasmBuilt();
    for (const o of opts) list.push(await WasmBackend.create({ minParallelMacs: 0, ...o }));
  });
  after(async () => { for (const b of list) await b.close(); });
  return list;
}

/** Deterministic xorshift generator in [0,1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

export function randomF32(n: number, r: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** A random [N,K] weight in `dtype` (FP8: every code but NaN), plus block scales for FP8. */
export function randomWeight(dtype: DType, N: number, K: number, r: () => number): { w: StoredTensor; s?: StoredTensor } {
  const n = N * K;
  let bytes: Uint8Array;
  if (dtype === 'F32') bytes = new Uint8Array(randomF32(n, r).buffer);
  else if (dtype === 'BF16') {
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = f32ToBf16(r() * 2 - 1);
    bytes = new Uint8Array(h.buffer);
  } else if (dtype === 'F16') {
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = (r() < 0.5 ? 0x8000 : 0) | Math.floor(r() * 0x3c00); // |v| < 1, subnormals included
    bytes = new Uint8Array(h.buffer);
  } else if (dtype === 'F8_E4M3') {
    bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) { let c = Math.floor(r() * 256); if ((c & 0x7f) === 0x7f) c ^= 1; bytes[i] = c; }
  } else throw new Error(dtype);
  const w: StoredTensor = { name: 'w', dtype, shape: [N, K], bytes };
  if (dtype !== 'F8_E4M3') return { w };
  const sc = new Float32Array(Math.ceil(N / 128) * Math.ceil(K / 128));
  for (let i = 0; i < sc.length; i++) sc[i] = 2 ** -8 * (0.5 + r());
  return { w, s: { name: 's', dtype: 'F32', shape: [Math.ceil(N / 128), Math.ceil(K / 128)], bytes: new Uint8Array(sc.buffer) } };
}

/** max_i |a_i − b_i| / bound_i, with bound_i the scale of the sum that produced a_i. */
export function maxScaledError(a: Float32Array, b: Float32Array, bound: Float32Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / (bound[i]! || 1e-30);
    if (!(d <= e)) e = d; // NaN propagates
  }
  return e;
}

/** bound[m,n] = Σ_k |x[m,k]|·|W[n,k]|: the natural scale of a dot product's rounding error. */
export function absProduct(x: Float32Array, M: number, W: Float32Array, N: number, K: number): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.abs(x[m * K + k]! * W[n * K + k]!);
      out[m * N + n] = s;
    }
  }
  return out;
}
