import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { E4M3_TABLE } from '../../formats/dtype.js';
import type { LayerCacheView } from '../backend.js';
import { PortableBackend } from '../portable.js';
import { randomF32, rng, useWasmBackends } from './testutil.js';

const portable = new PortableBackend();
const backends = useWasmBackends([{ threads: 1 }, { threads: 2 }]);

function randomCodes(n: number, r: () => number): Uint8Array {
  const c = new Uint8Array(n);
  for (let i = 0; i < n; i++) { let v = Math.floor(r() * 256); if ((v & 0x7f) === 0x7f) v ^= 1; c[i] = v; }
  return c;
}

function cacheView(T: number, R: number, P: number, D: number, fp8: boolean, r: () => number): LayerCacheView {
  const scales = new Float32Array(T * Math.max(1, R / 128));
  for (let i = 0; i < scales.length; i++) scales[i] = 0.01 * (0.5 + r());
  const iscales = new Float32Array(T);
  for (let i = 0; i < T; i++) iscales[i] = 0.01 * (0.5 + r());
  return {
    rank: R, ropeDim: P, latentFp8: fp8,
    latentCodes: fp8 ? randomCodes(T * R, r) : new Uint8Array(0),
    latentScales: fp8 ? scales : new Float32Array(0),
    latentF32: fp8 ? new Float32Array(0) : randomF32(T * R, r),
    pe: randomF32(T * P, r),
    indexDim: D, indexCodes: randomCodes(T * D, r), indexScales: iscales,
  };
}

function maxRel(a: Float32Array, b: Float32Array, scale: number): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / scale);
  return e;
}

describe('wasm indexerScores vs portable', () => {
  for (const bi of [0, 1]) {
    it(`${bi + 1} thread(s), one query and several (each row equals its single-query call)`, () => {
      for (const [H, D, T, rows] of [[5, 32, 1, 1], [4, 128, 3, 2], [64, 128, 17, 3], [7, 16, 203, 1], [8, 128, 130, 5]] as const) {
        const r = rng(H * 100 + D + T + rows);
        const cache = cacheView(T, 128, 8, D, true, r);
        const q = new Float32Array(rows * H * D);
        for (let i = 0; i < q.length; i++) q[i] = E4M3_TABLE[Math.floor(r() * 126)]! * (r() < 0.5 ? -1 : 1);
        const w = randomF32(rows * H, r);
        const want = new Float32Array(rows * T);
        const got = new Float32Array(rows * T);
        portable.indexerScores(q, w, H, cache, T, want, rows);
        backends[bi]!.indexerScores(q, w, H, cache, T, got, rows);
        // error scale: Σ_h |w_h|·Σ_d |q·k| · kScale ≤ the same with all magnitudes
        let bound = 0;
        for (let i = 0; i < rows; i++) {
          for (let t = 0; t < T; t++) {
            let s = 0;
            for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) s += Math.abs(w[i * H + h]! * q[(i * H + h) * D + d]! * E4M3_TABLE[cache.indexCodes[t * D + d]!]!);
            bound = Math.max(bound, s * cache.indexScales[t]!);
          }
        }
        const e = maxRel(got, want, bound);
        assert.ok(e < 1e-5, `H=${H} D=${D} T=${T} rows=${rows}: ${e}`);
        for (let i = 0; i < rows; i++) {
          const one = new Float32Array(T);
          backends[bi]!.indexerScores(q.subarray(i * H * D, (i + 1) * H * D), w.subarray(i * H, (i + 1) * H), H, cache, T, one);
          assert.deepEqual(one, got.subarray(i * T, (i + 1) * T), `row ${i} of ${rows} differs from its single-query call`);
        }
      }
    });
  }
});

describe('wasm latentAttention vs portable', () => {
  for (const bi of [0, 1]) {
    for (const fp8 of [true, false]) {
      it(`${bi + 1} thread(s), ${fp8 ? 'FP8' : 'fp32'} latents, all rows and selected rows`, () => {
        for (const [H, R, P, T] of [[3, 256, 64, 1], [5, 128, 16, 37], [6, 128, 8, 50], [16, 512, 64, 300]] as const) {
          const r = rng(H + R + P + T);
          const cache = cacheView(T, fp8 ? R : R - 3, P, 16, fp8, r);
          const Rr = cache.rank;
          const qLat = randomF32(H * Rr, r, 0.1);
          const qPe = randomF32(H * P, r, 0.1);
          const sel = new Int32Array(Math.ceil(T / 3));
          for (let i = 0; i < sel.length; i++) sel[i] = Math.floor(r() * T);
          for (const s of [null, sel]) {
            const want = new Float32Array(H * Rr);
            const got = new Float32Array(H * Rr);
            portable.latentAttention(qLat, qPe, H, cache, T, s, sel.length, 0.2, want);
            backends[bi]!.latentAttention(qLat, qPe, H, cache, T, s, sel.length, 0.2, got);
            let mx = 0;
            for (const v of want) mx = Math.max(mx, Math.abs(v));
            const e = maxRel(got, want, mx);
            assert.ok(e < 1e-5, `H=${H} R=${Rr} P=${P} T=${T} sel=${!!s}: ${e}`);
          }
        }
      });
    }
  }
});

describe('wasm topk', () => {
  it('selects the same set as the portable sort, ties to smaller indices', () => {
    const r = rng(9);
    for (const [n, k, kind] of [[1, 1, 'ties'], [10, 3, 'ties'], [1000, 17, 'ties'], [5000, 2048, 'ties'], [300, 300, 'ties'], [50, 80, 'ties'],
      [70000, 2048, 'signed'], [4096, 100, 'signed'], [3000, 7, 'zeros'], [20000, 2048, 'close']] as const) {
      const s = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        if (kind === 'ties') s[i] = Math.floor(r() * (n / 4)); // many ties
        else if (kind === 'signed') s[i] = (r() - 0.6) * 10 ** (r() * 8 - 4); // both signs, many magnitudes
        else if (kind === 'zeros') s[i] = r() < 0.5 ? (r() < 0.5 ? 0 : -0) : -r(); // +0 and −0 tie; the rest negative
        else s[i] = 1 + Math.floor(r() * 64) * 2 ** -23; // differ only in the low mantissa bits
      }
      const a = new Int32Array(k);
      const b = new Int32Array(k);
      const na = portable.topk(s, n, k, a);
      const nb = backends[0]!.topk(s, n, k, b);
      assert.equal(nb, na);
      assert.deepEqual([...b.subarray(0, nb)].sort((x, y) => x - y), [...a.subarray(0, na)].sort((x, y) => x - y), `n=${n} k=${k}`);
    }
  });
});
