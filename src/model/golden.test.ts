// The contract with DeepSeek's reference: logits, greedy tokens and DSA selections of the tiny
// checkpoints, on the portable kernels and on the WebAssembly kernels.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Backend } from '../kernels/backend.js';
import { PortableBackend } from '../kernels/portable.js';
import { WasmBackend } from '../kernels/wasm/backend.js';
import { type Golden, referenceDir, relErr } from '../testing/fixtures.js';
import { DeepSeekModel } from './model.js';

const TOL = 1e-4;

function argmax(v: Float32Array): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

const backends: [string, () => Promise<Backend>][] = [
  ['portable', async () => new PortableBackend()],
  ['wasm', async () => WasmBackend.create({ weights: 'native' })],
];

for (const [bname, make] of backends) {
  for (const name of ['tiny-bf16', 'tiny-fp8'] as const) {
    describe(`golden vectors: ${name} on ${bname} kernels`, async () => {
      const dir = referenceDir(name);
      const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
      const backend = await make();
      after(async () => { if (backend instanceof WasmBackend) await backend.close(); });
      const model = DeepSeekModel.load(dir, { backend });
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
}

// The int8 repack is not exact: measure how far it moves the golden logits (stated in bench/RESULTS.md).
describe('golden vectors with q8-repacked weights (stated accuracy)', async () => {
  const backend = await WasmBackend.create({ weights: 'q8' });
  after(() => backend.close());
  for (const name of ['tiny-bf16', 'tiny-fp8'] as const) {
    // Random tiny networks are chaotic at routing/selection boundaries: where q8 noise flips an expert or a
    // DSA choice the logits move a lot, elsewhere they move by a few percent. Both are stated.
    it(`${name}: median prefill logit error under 10%, argmax kept at ≥ 80% of positions`, (t) => {
      const dir = referenceDir(name);
      const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
      const model = DeepSeekModel.load(dir, { backend });
      const V = model.cfg.vocabSize;
      const res = model.forward(golden.prompt, 0, model.newCache(), { logits: 'all' });
      const errs: number[] = [];
      let agree = 0;
      for (let i = 0; i < golden.prompt.length; i++) {
        const row = res.logits.subarray(i * V, (i + 1) * V);
        errs.push(relErr(row, golden.prefill_logits[i]!));
        if (argmax(row) === argmax(Float32Array.from(golden.prefill_logits[i]!))) agree++;
      }
      errs.sort((a, b) => a - b);
      const median = errs[errs.length >> 1]!;
      t.diagnostic(`q8 ${name}: median relative error ${median.toFixed(3)}, max ${errs[errs.length - 1]!.toFixed(3)}, argmax agreement ${agree}/${golden.prompt.length}`);
      assert.ok(median < 0.1, `median relative error ${median}`);
      assert.ok(agree >= golden.prompt.length * 0.8, `argmax agreement ${agree}/${golden.prompt.length}`);
    });
  }
});
