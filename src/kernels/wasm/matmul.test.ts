import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fp8RoundTripInPlace, E4M3_TABLE } from '../../formats/dtype.js';
import type { DType } from '../../formats/dtype.js';
import { PortableBackend } from '../portable.js';
import { WasmBackend } from './backend.js';
import { relaxedSupported } from './module.js';
import { nativeGemm } from '../native.js';
import { absProduct, maxScaledError, randomF32, randomWeight, rng, useWasmBackends } from './testutil.js';

const portable = new PortableBackend();
const backends = useWasmBackends([{ threads: 1 }, { threads: 1, weights: 'q8' }, { threads: 2 }, { threads: 2, weights: 'q8' }]);
const get = (i: number) => backends[i]!;

const SHAPES: [number, number][] = [[37, 300], [130, 259], [8, 128], [5, 17], [257, 1000]];
const DTYPES: DType[] = ['F32', 'BF16', 'F16', 'F8_E4M3'];

function check(dtype: DType, N: number, K: number, M: number, actQuant: boolean, bi: number, tol: number): number {
  const r = rng(N * 1000 + K * 7 + M);
  const { w, s } = randomWeight(dtype, N, K, r);
  const b = get(bi);
  const lp = portable.linear('w', w, s, actQuant);
  const lw = b.linear('w', w, s, actQuant);
  const x = randomF32(M * K, r);
  const want = portable.matmul(x, M, lp);
  const got = b.matmul(x, M, lw);
  const xs = x.slice();
  if (lp.actQuant) fp8RoundTripInPlace(xs, 128);
  const err = maxScaledError(got, want, absProduct(xs, M, portable.dequantize(lp), N, K));
  assert.ok(err <= tol, `${b.name} ${dtype} ${N}×${K} M=${M} actQuant=${actQuant}: scaled error ${err} > ${tol}`);
  b.release(lw);
  return err;
}

describe('wasm matmul vs portable (native formats)', () => {
  for (const bi of [0, 2]) {
    for (const dtype of DTYPES) {
      for (const aq of dtype === 'F8_E4M3' ? [false, true] : [false]) {
        it(`${bi ? 2 : 1} thread(s) ${dtype}${aq ? ' actQuant' : ''}`, () => {
          for (const [N, K] of SHAPES) for (const M of [1, 3, 17]) check(dtype, N, K, M, aq, bi, 1e-5);
        });
      }
    }
  }
});

describe('wasm matmul q8 repack', () => {
  for (const bi of [1, 3]) {
    // int8 per 32 on both sides: |Δ| ≲ Σ(|x|·amax_w + |w|·amax_x)/254 per block, so relative to Σ|x||w|
    // the error is largest for heavy-tailed blocks (the F16 test values are log-uniform: 2% bound).
    it(`${bi === 3 ? 2 : 1} thread(s), every dtype, error within 2% of Σ|x||w|`, (t) => {
      for (const dtype of DTYPES) {
        let worst = 0;
        for (const [N, K] of SHAPES) for (const M of [1, 3, 17]) worst = Math.max(worst, check(dtype, N, K, M, dtype === 'F8_E4M3', bi, 2e-2));
        t.diagnostic(`q8 ${dtype}: worst |Δ|/Σ|x||w| = ${worst.toExponential(2)}`);
        assert.ok(worst > 0);
      }
    });
  }
});

describe('wasm decode GEMV with long rows (four read streams: two tiles, each as two halves)', () => {
  it('agrees with the portable backend, odd block counts and an odd last tile included', () => {
    for (const [N, K] of [[40, 2080], [24, 2048], [20, 4128], [36, 3000]] as const) {
      for (const bi of [0, 1, 2, 3]) check('BF16', N, K, 1, false, bi, get(bi).weights === 'q8' ? 2e-2 : 1e-5);
    }
  });
});

describe('wasm q8 GEMM row pairs', () => {
  it('a row gives bitwise the same result whether it runs in a pair or alone (M = 3: rows 0,1 paired, row 2 alone)', () => {
    for (const bi of [1, 3]) {
      for (const [N, K] of [[64, 256], [37, 100], [130, 2048], [12, 33]] as const) {
        const { w, s } = randomWeight('BF16', N, K, rng(N + K));
        const lq = get(bi).linear('w', w, s);
        const a = randomF32(K, rng(1)), c = randomF32(K, rng(2));
        const x = new Float32Array(3 * K);
        x.set(a, 0); x.set(c, K); x.set(a, 2 * K);
        const y = get(bi).matmul(x, 3, lq);
        assert.deepEqual(y.subarray(0, N), y.subarray(2 * N, 3 * N), `${N}×${K}, backend ${bi}`);
        get(bi).release(lq);
      }
    }
  });
});

describe('wasm matmulList', () => {
  it('gives each item what matmul gives it alone (mixed shapes, rows not a multiple of 8, every format, q8)', () => {
    for (const bi of [0, 1, 2, 3]) {
      const be = get(bi);
      for (const dtype of ['BF16', 'F32', 'F8_E4M3'] as const) {
        const shapes = [[64, 256], [37, 100], [130, 259], [12, 33], [256, 64], [24, 2080]] as const;
        const lins = shapes.map(([N, K], i) => { const { w, s } = randomWeight(dtype, N, K, rng(N * K + i)); return be.linear('w', w, s); });
        const items = shapes.map(([N, K], i) => ({ x: randomF32(K, rng(i + 1)), w: lins[i]!, y: new Float32Array(N) }));
        be.matmulList(items);
        for (let i = 0; i < items.length; i++) {
          const it = items[i]!;
          const alone = be.matmul(it.x, 1, it.w);
          const bound = absProduct(it.x, 1, be.dequantize(it.w), shapes[i]![0], shapes[i]![1]);
          assert.ok(maxScaledError(it.y, alone, bound) <= 1e-5, `${be.name} ${dtype} item ${i}`);
        }
        for (const l of lins) be.release(l);
      }
    }
  });
});

describe('wasm tiled weight layout', () => {
  it('dequantize gives the stored values back exactly (rows not a multiple of four, K not of the block, odd K)', () => {
    for (const dtype of ['F32', 'F16', 'BF16', 'F8_E4M3'] as const) {
      for (const [N, K] of [[37, 300], [5, 17], [8, 128], [6, 9], [130, 259]] as const) {
        const { w, s } = randomWeight(dtype, N, K, rng(N * K));
        const lw = get(0).linear('w', w, s);
        assert.deepEqual(get(0).dequantize(lw), portable.dequantize(portable.linear('w', w, s)), `${dtype} ${N}×${K}`);
        get(0).release(lw);
      }
    }
  });
});

describe('wasm q8 tiled layout', () => {
  it('dequantize reads every row back within half a step of its block (rows not a multiple of four)', () => {
    for (const [N, K] of [[37, 300], [5, 17], [8, 128]] as const) {
      const r = rng(N + K);
      const { w } = randomWeight('F32', N, K, r);
      const exact = portable.dequantize(portable.linear('w', w));
      const lq = get(1).linear('w', w);
      const back = get(1).dequantize(lq);
      for (let n = 0; n < N; n++) {
        for (let b = 0; b * 32 < K; b++) {
          let amax = 0;
          for (let k = b * 32; k < Math.min(K, b * 32 + 32); k++) amax = Math.max(amax, Math.abs(exact[n * K + k]!));
          for (let k = b * 32; k < Math.min(K, b * 32 + 32); k++) {
            assert.ok(Math.abs(back[n * K + k]! - exact[n * K + k]!) <= (amax / 127) * 0.5001 + 1e-12, `${N}×${K} row ${n} col ${k}`);
          }
        }
      }
      get(1).release(lq);
    }
  });
});

describe('wasm FP8 decoding', () => {
  it('decodes every e4m3 code exactly, subnormals included, in GEMV and GEMM', () => {
    // 16 rows × 16 codes: row r holds codes 16r..16r+15 (NaN codes replaced by 0x7e)
    const codes = new Uint8Array(256);
    for (let i = 0; i < 256; i++) codes[i] = (i & 0x7f) === 0x7f ? i - 1 : i;
    const sc = new Float32Array([1]);
    const w = { name: 'w', dtype: 'F8_E4M3' as const, shape: [16, 16], bytes: codes };
    const s = { name: 's', dtype: 'F32' as const, shape: [1, 1], bytes: new Uint8Array(sc.buffer) };
    for (const bi of [0, 2]) {
      const lin = get(bi).linear('w', w, s);
      const eye = new Float32Array(256);
      for (let k = 0; k < 16; k++) eye[k * 16 + k] = 1;
      const gemm = get(bi).matmul(eye, 16, lin); // [k, n] = W[n, k]
      for (let k = 0; k < 16; k++) {
        const gemv = get(bi).matmul(eye.subarray(k * 16, k * 16 + 16), 1, lin);
        for (let n = 0; n < 16; n++) {
          const want = E4M3_TABLE[codes[n * 16 + k]!]!;
          assert.ok(gemv[n] === want, `gemv code ${codes[n * 16 + k]}: ${gemv[n]} != ${want}`); // -0 and 0 alike
          assert.ok(gemm[k * 16 + n] === want, `gemm code ${codes[n * 16 + k]}: ${gemm[k * 16 + n]} != ${want}`);
        }
      }
    }
  });
});

describe('wasm backend memory', () => {
  it('refuses weights beyond its memory budget with a clear error', async () => {
    const b = await WasmBackend.create({ threads: 1, maxMemoryBytes: 1 << 20 });
    try {
      const { w } = randomWeight('F32', 512, 1024, rng(1));
      assert.throws(() => b.linear('big', w), /out of memory for big/);
    } finally { await b.close(); }
  });

  it('re-uses released weight memory', () => {
    const b = get(0);
    const { w } = randomWeight('F32', 64, 64, rng(2));
    const before = b.memoryInUse;
    const lin = b.linear('w', w);
    assert.ok(b.memoryInUse >= before + 64 * 64 * 4);
    b.release(lin);
    assert.equal(b.memoryInUse, before);
  });
});

describe('grouped matmul (stacked per-head weights, one input row per group)', () => {
  // the readable truth: group g is an ordinary matmul of x row g with its own rows of W
  function groupedByHand(x: Float32Array, G: number, W: Float32Array, N: number, K: number): Float32Array {
    const Nh = N / G;
    const y = new Float32Array(N);
    for (let n = 0; n < N; n++) {
      const g = Math.floor(n / Nh);
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[g * K + k]! * W[n * K + k]!;
      y[n] = acc;
    }
    return y;
  }
  const CASES: [number, number, number][] = [[1, 8, 64], [3, 5, 130], [16, 128, 32], [4, 36, 256]]; // G, rows per group, K
  for (const bi of [0, 1, 2, 3]) {
    it(`${get(bi)?.name ?? `backend ${bi}`}: every dtype against per-group products`, () => {
      const b = get(bi);
      const q8 = b.weights === 'q8';
      for (const dtype of DTYPES) {
        for (const [G, Nh, K] of CASES) {
          const r = rng(G * 31 + Nh * 7 + K);
          const N = G * Nh;
          const { w, s } = randomWeight(dtype, N, K, r);
          const lp = portable.linear('w', w, s);
          const x = randomF32(G * K, r);
          const W = portable.dequantize(lp);
          const want = groupedByHand(x, G, W, N, K);
          const bound = new Float32Array(N);
          for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) bound[n]! += Math.abs(x[Math.floor(n / Nh) * K + k]! * W[n * K + k]!);
          assert.ok(maxScaledError(portable.matmulGrouped(x, G, lp), want, bound) < 1e-6, `portable ${dtype} G=${G}`);
          const lw = b.linear('w', w, s);
          const got = b.matmulGrouped(x, G, lw);
          // q8 rounds x and W as the ordinary q8 matmul does: the diagonal blocks of x[G,K]·Wᵀ
          const full = q8 ? b.matmul(x, G, lw) : null;
          const ref = full ? Float32Array.from({ length: N }, (_, n) => full[Math.floor(n / Nh) * N + n]!) : want;
          const err = maxScaledError(got, ref, bound);
          assert.ok(err <= 1e-5, `${b.name} ${dtype} G=${G} Nh=${Nh} K=${K}: ${err}`);
          b.release(lw);
        }
      }
      assert.throws(() => b.matmulGrouped(new Float32Array(30), 7, b.linear('odd', randomWeight('F32', 10, 3, rng(1)).w)), /do not split into 7 groups/);
    });
  }
});

describe('both kernel builds (SIMD128 and relaxed SIMD with fused multiply-add)', () => {
  it('agree with the portable backend on every format, GEMV and GEMM', async () => {
    const builds: ('baseline' | 'relaxed')[] = relaxedSupported() ? ['baseline', 'relaxed'] : ['baseline'];
    for (const simd of builds) {
      for (const weights of ['native', 'q8'] as const) {
        const b = await WasmBackend.create({ threads: 2, minParallelMacs: 0, simd, weights });
        try {
          assert.equal(b.simd, simd);
          for (const dtype of DTYPES) {
            for (const [N, K] of [[37, 300], [130, 259]] as const) {
              for (const M of [1, 17]) {
                const r = rng(N + K + M);
                const { w, s } = randomWeight(dtype, N, K, r);
                const lp = portable.linear('w', w, s);
                const lw = b.linear('w', w, s);
                const x = randomF32(M * K, r);
                const err = maxScaledError(b.matmul(x, M, lw), portable.matmul(x, M, lp), absProduct(x, M, portable.dequantize(lp), N, K));
                assert.ok(err <= (weights === 'q8' ? 2e-2 : 1e-5), `${b.name} ${dtype} ${N}×${K} M=${M}: ${err}`);
              }
            }
          }
        } finally { await b.close(); }
      }
    }
  });
});

describe('optional native GEMM for prefill-sized products (npm run setup:native)', () => {
  it('gives what the wasm kernels give, for every stored format and for q8 (which rounds activations the same way)', async (t) => {
    if (!nativeGemm()) { t.skip('native/build/Release/dsv32_blas.node is not built (npm run setup:native)'); return; }
    for (const weights of ['native', 'q8'] as const) {
      const withBlas = await WasmBackend.create({ threads: 2, weights, nativeGemm: 'auto', minParallelMacs: 0 });
      const wasmOnly = await WasmBackend.create({ threads: 2, weights, nativeGemm: 'off', minParallelMacs: 0 });
      try {
        assert.ok(withBlas.name.endsWith('+blas') && !wasmOnly.name.endsWith('+blas'));
        for (const dtype of DTYPES) {
          for (const [N, K] of [[37, 300], [130, 259], [64, 2048]] as const) {
            for (const M of [16, 17, 64]) {
              const r = rng(N + K + M);
              const { w, s } = randomWeight(dtype, N, K, r);
              const a = withBlas.linear('w', w, s, dtype === 'F8_E4M3'), b = wasmOnly.linear('w', w, s, dtype === 'F8_E4M3');
              const x = randomF32(M * K, r);
              const xs = x.slice();
              if (dtype === 'F8_E4M3') fp8RoundTripInPlace(xs, 128);
              const err = maxScaledError(withBlas.matmul(x, M, a), wasmOnly.matmul(x, M, b), absProduct(xs, M, portable.dequantize(portable.linear('w', w, s)), N, K));
              assert.ok(err <= 1e-5, `${weights} ${dtype} ${N}×${K} M=${M}: ${err}`);
              withBlas.release(a); wasmOnly.release(b);
            }
          }
        }
      } finally { await withBlas.close(); await wasmOnly.close(); }
    }
  });
});
