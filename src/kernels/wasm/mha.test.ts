// Prefill (MHA) attention on the SIMD GEMMs against the portable loops: causal, chunked (P > 0), DSA masks.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PortableBackend } from '../portable.js';
import { WasmBackend } from './backend.js';

function rand(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 - 0.5; });
}

describe('wasm mhaAttention', async () => {
  const wasm = await WasmBackend.create({ weights: 'q8' }); // q8 must not touch attention operands
  after(() => wasm.close());
  const portable = new PortableBackend();
  const cases = [
    { S: 150, P: 0, H: 3, dqk: 24, dv: 16 },
    { S: 70, P: 200, H: 2, dqk: 40, dv: 8 },
    { S: 129, P: 5, H: 1, dqk: 192, dv: 128 },
    // three query blocks of 128: the first two score only the keys they can see (a prefix of K's rows)
    { S: 300, P: 20, H: 2, dqk: 24, dv: 16 },
  ];
  for (const { S, P, H, dqk, dv } of cases) {
    for (const dsa of [false, true]) {
      it(`S=${S} P=${P} H=${H} dqk=${dqk} dv=${dv}${dsa ? ' with DSA selections' : ''}`, () => {
        const T = P + S;
        const q = rand(S * H * dqk, 1);
        const k = rand(T * H * dqk, 2);
        const v = rand(T * H * dv, 3);
        const sel = dsa ? Array.from({ length: S }, (_, i) => (P + i + 1 > 16 ? Int32Array.from({ length: 16 }, (_, j) => (j * 7 + i) % (P + i + 1)) : null)) : null;
        const a = new Float32Array(S * H * dv);
        const b = new Float32Array(S * H * dv);
        wasm.mhaAttention(q, k, v, S, T, P, H, dqk, dv, 0.2, sel, a);
        portable.mhaAttention(q, k, v, S, T, P, H, dqk, dv, 0.2, sel, b);
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        assert.ok(worst < 1e-5, `max abs diff ${worst}`);
      });
    }
  }

  it('a selection list with no selected row (DSA below top-k) runs the plain causal softmax: the same result as none', () => {
    const S = 200, P = 0, H = 2, dqk = 24, dv = 16, T = S;
    const q = rand(S * H * dqk, 4), k = rand(T * H * dqk, 5), v = rand(T * H * dv, 6);
    const a = new Float32Array(S * H * dv), b = new Float32Array(S * H * dv);
    wasm.mhaAttention(q, k, v, S, T, P, H, dqk, dv, 0.2, Array.from({ length: S }, () => null), a);
    wasm.mhaAttention(q, k, v, S, T, P, H, dqk, dv, 0.2, null, b);
    assert.deepEqual(a, b);
  });
});
