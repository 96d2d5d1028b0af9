import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortableBackend } from '../portable.js';
import { randomF32, rng, useWasmBackends } from './testutil.js';

const portable = new PortableBackend();
const backends = useWasmBackends([{ threads: 1 }, { threads: 2 }]);

describe('wasm swiglu vs portable', () => {
  for (const bi of [0, 1]) {
    it(`${bi + 1} thread(s): within 4e-7 relative (+1e-30 absolute) over ordinary, tiny, huge and zero gates`, () => {
      for (const n of [1, 3, 4, 37, 1024, 5003]) {
        const r = rng(n);
        const g = randomF32(n, r, 8);
        const u = randomF32(n, r, 2);
        // the exp's clamps and the scalar tail: extreme gates at both ends and in the middle
        const extremes = [0, -0, 1e-30, -1e-30, 80, -80, 100, -100, 1e4, -1e4, 88.7, -87.3];
        for (let i = 0; i < Math.min(n, extremes.length); i++) g[(i * 7) % n] = extremes[i]!;
        const want = portable.swiglu(g.slice(), u, n);
        const got = backends[bi]!.swiglu(g.slice(), u, n);
        for (let i = 0; i < n; i++) {
          const tol = 4e-7 * Math.abs(want[i]!) + 1e-30;
          assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `n=${n} i=${i} g=${g[i]} u=${u[i]}: ${got[i]} vs ${want[i]}`);
        }
      }
    });
  }
  it('only the first n values change', async () => {
    const g = new Float32Array([1, 2, 3, 4, 5, 6]);
    const u = new Float32Array([1, 1, 1, 1, 1, 1]);
    backends[0]!.swiglu(g, u, 4);
    assert.deepEqual([...g.subarray(4)], [5, 6]);
  });
});
