// Chunked prefill and both attention paths compute the same model as one full prefill.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Golden, referenceDir, relErr } from '../testing/fixtures.js';
import { DeepSeekModel } from './model.js';
import type { AttentionPath } from './mla.js';

const TOL = 1e-4;

function run(model: DeepSeekModel, prompt: number[], chunk: number, path: AttentionPath) {
  const V = model.cfg.vocabSize;
  const cache = model.newCache();
  const logits = new Float32Array(prompt.length * V);
  const sel = new Map<string, string>();
  for (let p = 0; p < prompt.length; p += chunk) {
    const part = prompt.slice(p, p + chunk);
    const r = model.forward(part, p, cache, {
      logits: 'all',
      path,
      hooks: { onSelect: (l, pos, s) => sel.set(`${l}:${pos}`, s ? [...s].sort((a, b) => a - b).join(',') : 'all') },
    });
    logits.set(r.logits, p * V);
  }
  return { logits, sel };
}

for (const name of ['tiny-bf16', 'tiny-fp8'] as const) {
  describe(`chunked prefill: ${name}`, () => {
    const dir = referenceDir(name);
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
    const model = DeepSeekModel.load(dir);
    const V = model.cfg.vocabSize;
    const full = run(model, golden.prompt, golden.prompt.length, 'auto');

    for (const [chunk, path] of [[7, 'auto'], [1, 'auto'], [7, 'absorbed'], [1, 'mha'], [40, 'absorbed']] as const) {
      it(`chunks of ${chunk} on the ${path} path give the same logits and selections as one prefill`, () => {
        const r = run(model, golden.prompt, chunk, path);
        for (let i = 0; i < golden.prompt.length; i++) {
          const e = relErr(r.logits.subarray(i * V, (i + 1) * V), full.logits.subarray(i * V, (i + 1) * V));
          assert.ok(e < TOL, `row ${i}: relative error ${e}`);
        }
        assert.deepEqual(r.sel, full.sel);
      });
    }

    it('a forward from an earlier position rewrites the cache (rejected drafts)', () => {
      const cache = model.newCache();
      model.forward(golden.prompt.slice(0, 30), 0, cache);
      model.forward([5, 6, 7], 30, cache); // drafts that get rejected
      const r = model.forward(golden.prompt.slice(30), 30, cache, { logits: 'all' });
      const e = relErr(r.logits.subarray(0, V), full.logits.subarray(30 * V, 31 * V));
      assert.ok(e < TOL, `relative error ${e}`);
      assert.equal(cache.length, golden.prompt.length);
    });

    it('rejects bad positions and tokens with clear errors', () => {
      const cache = model.newCache();
      assert.throws(() => model.forward([1, 2], 3, cache), /past the 0 cached positions/);
      assert.throws(() => model.forward([V], 0, cache), /outside the vocabulary/);
      assert.throws(() => model.forward([], 0, cache), /at least one token/);
      assert.throws(() => model.forward([1], model.cfg.maxPositions, cache), RangeError);
    });
  });
}

describe('batched forward', () => {
  const dir = referenceDir('tiny-fp8');
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
  const model = DeepSeekModel.load(dir);
  const V = model.cfg.vocabSize;

  it('several sequences in one forward match each run alone (prefill and decode mixed)', () => {
    const a = golden.prompt;
    const b = golden.prompt.slice(5, 33).reverse();
    const soloA = model.forward(a, 0, model.newCache(), { logits: 'all' }).logits;
    const cb = model.newCache();
    model.forward(b.slice(0, 20), 0, cb);
    const soloB = model.forward(b.slice(20), 20, cb, { logits: 'all' }).logits;

    const ca = model.newCache();
    const cb2 = model.newCache();
    model.forward(b.slice(0, 19), 0, cb2);
    model.forward(a.slice(0, 30), 0, ca);
    const [ra, rb] = model.forwardBatch([
      { tokens: a.slice(30), startPos: 30, cache: ca },
      { tokens: b.slice(19), startPos: 19, cache: cb2 },
    ], { logits: 'all' });
    for (let i = 0; i < 10; i++) assert.ok(relErr(ra!.logits.subarray(i * V, (i + 1) * V), soloA.subarray((30 + i) * V, (31 + i) * V)) < TOL);
    for (let i = 1; i < 9; i++) assert.ok(relErr(rb!.logits.subarray(i * V, (i + 1) * V), soloB.subarray((i - 1) * V, i * V)) < TOL);
    // single-token decode rows for both in one step
    const [da, db] = model.forwardBatch([{ tokens: [7], startPos: 40, cache: ca }, { tokens: [9], startPos: 28, cache: cb2 }]);
    const ea = model.forward([7], 40, ((c) => { model.forward(a, 0, c); return c; })(model.newCache()));
    assert.ok(relErr(da!.logits, ea.logits) < TOL);
    assert.equal(db!.logits.length, V);
  });
});
