import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../random.js';
import { gemm, gemmPortable, setGemm } from './gemm.js';

test('gemm: all four transpose combinations, overwrite and accumulate, odd sizes', () => {
  const rng = new Rng(5);
  const M = 7, N = 6, K = 5;
  const A = rng.fillNormal(new Float32Array(M * K), 1); // logical [M,K]
  const Bm = rng.fillNormal(new Float32Array(K * N), 1); // logical [K,N]
  const At = new Float32Array(K * M);
  const Bt = new Float32Array(N * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[k * M + i] = A[i * K + k]!;
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Bt[j * K + k] = Bm[k * N + j]!;
  const want = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) want[i * N + j] += A[i * K + k]! * Bm[k * N + j]!;
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    const c = new Float32Array(M * N).fill(3);
    gemm(ta ? At : A, tb ? Bt : Bm, c, M, N, K, ta, tb, false);
    for (let i = 0; i < M * N; i++) assert.ok(Math.abs(c[i]! - want[i]!) < 1e-5, `trans ${ta},${tb} at ${i}`);
    gemm(ta ? At : A, tb ? Bt : Bm, c, M, N, K, ta, tb, true);
    for (let i = 0; i < M * N; i++) assert.ok(Math.abs(c[i]! - 2 * want[i]!) < 1e-5, `accumulate ${ta},${tb} at ${i}`);
  }
});

test('setGemm swaps the kernel every op uses', () => {
  let calls = 0;
  setGemm((...args) => { calls++; gemmPortable(...args); });
  try {
    gemm(new Float32Array(4), new Float32Array(4), new Float32Array(4), 2, 2, 2);
    assert.equal(calls, 1);
  } finally {
    setGemm(gemmPortable);
  }
});

test('gemm: sizes spanning several cache blocks and odd row counts', () => {
  const rng = new Rng(6);
  const M = 5, N = 37, K = 600; // column blocks of 24 rows of B for K = 600
  const A = rng.fillNormal(new Float32Array(M * K), 1);
  const Bt = rng.fillNormal(new Float32Array(N * K), 1);
  const c = new Float32Array(M * N);
  gemm(A, Bt, c, M, N, K, false, true);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[i * K + k]! * Bt[j * K + k]!;
    assert.ok(Math.abs(c[i * N + j]! - s) < 1e-3, `${i},${j}`);
  }
});
