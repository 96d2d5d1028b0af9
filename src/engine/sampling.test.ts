import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from './random.js';
import { applyPenalties, distribution, draw, GREEDY, logprobsOf, type SamplingParams } from './sampling.js';

const P = (o: Partial<SamplingParams>): SamplingParams => ({ ...GREEDY, temperature: 1, ...o });

/** top-p by a full stable sort in float64: the definition the fast path must reproduce. */
function nucleus(logits: Float32Array, topP: number): Set<number> {
  const V = logits.length;
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const pr = Float64Array.from(logits, (x) => Math.exp(x - max));
  const s = pr.reduce((a, b) => a + b, 0);
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => pr[b]! - pr[a]! || a - b);
  let cum = 0;
  const keep = new Set<number>();
  for (const i of order) { keep.add(i); cum += pr[i]! / s; if (cum >= topP) break; }
  return keep;
}

describe('sampling', () => {
  it('top-p keeps exactly the nucleus a full sort keeps, ties included', () => {
    for (let t = 0; t < 60; t++) {
      const V = 50 + t * 41;
      const l = Float32Array.from({ length: V }, (_, i) => Math.round(Math.sin(i * 7.1 + t) * (t % 3 ? 6 : 2)));
      const topP = 0.3 + (t % 7) / 10;
      const d = distribution(l, P({ topP }));
      const want = nucleus(l, topP);
      for (let i = 0; i < V; i++) assert.equal(d[i]! > 0, want.has(i), `case ${t} token ${i}`);
      assert.ok(Math.abs(d.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
  });

  it('top-k, temperature 0 and penalties', () => {
    const l = Float32Array.from([1, 5, 3, 4, 2]);
    const d = distribution(l, P({ topK: 2 }));
    assert.deepEqual([...d].map((x) => x > 0), [false, true, false, true, false]);
    assert.deepEqual([...distribution(l, P({ temperature: 0 }))], [0, 1, 0, 0, 0]);
    const pen = l.slice();
    applyPenalties(pen, new Map([[1, 3]]), P({ frequencyPenalty: 1, presencePenalty: 0.5 }));
    assert.equal(pen[1], 5 - 3 - 0.5);
  });

  it('draws follow the distribution; a mask redirects to allowed tokens', () => {
    const probs = Float32Array.from([0.1, 0.6, 0.3]);
    const rng = new Random(3);
    const n = [0, 0, 0];
    for (let i = 0; i < 6000; i++) n[draw(probs.slice(), rng)]!++;
    assert.ok(Math.abs(n[1]! / 6000 - 0.6) < 0.03 && Math.abs(n[0]! / 6000 - 0.1) < 0.02, n.join(','));
    for (let i = 0; i < 50; i++) assert.notEqual(draw(probs.slice(), rng, (id) => id !== 1), 1);
  });

  it('logprobs are log-softmax of the raw logits with the top alternatives', () => {
    const l = Float32Array.from([0, Math.log(3), 0]);
    const r = logprobsOf(l, 1, 2);
    assert.ok(Math.abs(r.logprob - Math.log(0.6)) < 1e-6);
    assert.equal(r.top[0]!.token, 1);
    assert.equal(r.top.length, 2);
  });
});
