// The contract with DeepSeek's reference: logits, greedy tokens and DSA selections of the tiny checkpoints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Golden, referenceDir, relErr } from '../testing/fixtures.js';
import { DeepSeekModel } from './model.js';

const TOL = 1e-4;

function argmax(v: Float32Array): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

for (const name of ['tiny-bf16', 'tiny-fp8'] as const) {
  describe(`golden vectors: ${name}`, () => {
    const dir = referenceDir(name);
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
    const model = DeepSeekModel.load(dir);
    const V = model.cfg.vocabSize;

    it('prefill logits, indexer selections, greedy decode and decode logits match the reference', () => {
      const cache = model.newCache();
      const selPrefill = new Map<string, number[]>();
      const all = (pos: number) => Array.from({ length: pos + 1 }, (_, i) => i);
      const res = model.forward(golden.prompt, 0, cache, {
        logits: 'all',
        path: 'mha', // the reference's prefill path; decode below takes the absorbed one
        hooks: { onSelect: (l, pos, sel) => selPrefill.set(`${l}:${pos}`, sel ? [...sel].sort((a, b) => a - b) : all(pos)) },
      });
      for (let i = 0; i < golden.prompt.length; i++) {
        const e = relErr(res.logits.subarray(i * V, (i + 1) * V), golden.prefill_logits[i]!);
        assert.ok(e < TOL, `prefill row ${i}: relative error ${e}`);
      }
      for (const { layer, rows } of golden.indexer_prefill) {
        rows.forEach((want, pos) => assert.deepEqual(selPrefill.get(`${layer}:${pos}`), [...want].sort((a, b) => a - b), `layer ${layer} row ${pos}`));
      }
      const tokens: number[] = [argmax(res.logits.subarray((golden.prompt.length - 1) * V))];
      const selDecode = new Map<string, number[]>();
      for (let j = 0; j < golden.decode_logits.length; j++) {
        const pos = golden.prompt.length + j;
        const r = model.forward([tokens[j]!], pos, cache, {
          hooks: { onSelect: (l, p, sel) => selDecode.set(`${l}:${p}`, sel ? [...sel].sort((a, b) => a - b) : all(p)) },
        });
        const e = relErr(r.logits, golden.decode_logits[j]!);
        assert.ok(e < TOL, `decode step ${j}: relative error ${e}`);
        tokens.push(argmax(r.logits));
      }
      assert.deepEqual(tokens, golden.greedy_tokens);
      for (const { layer, pos, selected } of golden.indexer_decode) {
        assert.deepEqual(selDecode.get(`${layer}:${pos}`), [...selected].sort((a, b) => a - b), `decode layer ${layer} pos ${pos}`);
      }
    });
  });
}
