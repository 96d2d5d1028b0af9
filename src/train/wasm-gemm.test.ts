import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ensureWasmBuilt } from '../kernels/wasm/testutil.js';
import { gemm, gemmPortable, setGemm } from './autograd/gemm.js';
import { Rng } from './random.js';
import { WasmGemm } from './wasm-gemm.js';

const kernels: WasmGemm[] = [];
before(async () => {
  ensureWasmBuilt();
  // minParallelMacs 0: even small calls are split, so the two-thread path is exercised
  for (const threads of [1, 2]) kernels.push(await WasmGemm.create({ threads, minParallelMacs: 0 }));
});
after(async () => { for (const k of kernels) await k.close(); });

test('wasm gemm equals the portable kernel for every transpose/accumulate case and odd sizes', () => {
  const rng = new Rng(11);
  // K > 256 crosses the kernel's K block; N not a multiple of 8 leaves a partial column panel
  const shapes = [[7, 6, 5], [1, 9, 513], [33, 17, 300], [64, 40, 8], [5, 3, 1]] as const;
  for (const k of kernels) {
    for (const [M, N, K] of shapes) {
      for (const ta of [false, true]) for (const tb of [false, true]) for (const acc of [false, true]) {
        const a = rng.fillNormal(new Float32Array(M * K), 1);
        const b = rng.fillNormal(new Float32Array(N * K), 1);
        const want = rng.fillNormal(new Float32Array(M * N), 1);
        const got = want.slice();
        gemmPortable(a, b, want, M, N, K, ta, tb, acc);
        k.gemm(a, b, got, M, N, K, ta, tb, acc);
        for (let i = 0; i < M * N; i++) {
          assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * Math.sqrt(K), `${k.threads}t ${M}×${N}×${K} ta=${ta} tb=${tb} acc=${acc} at ${i}: ${got[i]} vs ${want[i]}`);
        }
      }
    }
  }
});

test('wasm gemm: K = 0 clears or keeps C; empty outputs are no-ops; subarray operands', () => {
  const k = kernels[1]!;
  const c = new Float32Array([1, 2, 3, 4]);
  k.gemm(new Float32Array(0), new Float32Array(0), c, 2, 2, 0, false, false, true);
  assert.deepEqual([...c], [1, 2, 3, 4]);
  k.gemm(new Float32Array(0), new Float32Array(0), c, 2, 2, 0, false, false, false);
  assert.deepEqual([...c], [0, 0, 0, 0]);
  // operands as views into a larger buffer (how attention passes per-head panels)
  const big = Float32Array.from({ length: 20 }, (_, i) => i);
  const a = big.subarray(4, 8); // [2,2] = [[4,5],[6,7]]
  const b = big.subarray(10, 14); // [2,2] = [[10,11],[12,13]] as Bᵀ rows
  k.gemm(a, b, c, 2, 2, 2, false, true, false);
  assert.deepEqual([...c], [4 * 10 + 5 * 11, 4 * 12 + 5 * 13, 6 * 10 + 7 * 11, 6 * 12 + 7 * 13]);
});

test('installed with setGemm, training ops use it', () => {
  const rng = new Rng(3);
  const a = rng.fillNormal(new Float32Array(12 * 20), 1);
  const b = rng.fillNormal(new Float32Array(20 * 9), 1);
  const want = new Float32Array(12 * 9);
  gemm(a, b, want, 12, 9, 20);
  let calls = 0;
  const k = kernels[0]!;
  setGemm((...args) => { calls++; k.gemm(...args); });
  try {
    const got = new Float32Array(12 * 9);
    gemm(a, b, got, 12, 9, 20);
    assert.equal(calls, 1);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4);
  } finally {
    setGemm(gemmPortable);
  }
});
