// The engine end to end on real (tiny) models: greedy = golden, MTP speculation exact, batching,
// sampling reproducibility, stops, JSON-constrained output and the context cache.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PortableBackend } from '../kernels/portable.js';
import { parseConfig } from '../model/config.js';
import { DeepSeekModel } from '../model/model.js';
import { MapSource, syntheticTensors } from '../model/synthetic.js';
import { type Golden, referenceDir, repoRoot } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { Engine, type GenerateRequest } from './engine.js';
import { PrefixCache } from './prefix-cache.js';
import type { GenerateEvent } from './sequence.js';

async function collect(it: AsyncIterable<GenerateEvent>) {
  const tokens: number[] = [];
  let text = '';
  let done: Extract<GenerateEvent, { type: 'done' }> | null = null;
  for await (const e of it) {
    if (e.type === 'token') { if (e.token >= 0) tokens.push(e.token); text += e.text; } else done = e;
  }
  return { tokens, text, done: done! };
}

const tok = Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
function mtpModel(seed = 7, extra: Record<string, unknown> = {}) {
  const cfg = parseConfig(tinyConfigJson({ num_nextn_predict_layers: 1, vocab_size: tok.vocabSize, max_position_embeddings: 512, ...extra }));
  return new DeepSeekModel(cfg, new MapSource(syntheticTensors(cfg, { seed })), new PortableBackend());
}
const prompt = tok.encode('It is a truth universally acknowledged, that a single man in possession of a good fortune');

describe('engine', () => {
  it('greedy generation reproduces the reference greedy tokens (tiny-fp8)', async () => {
    const dir = referenceDir('tiny-fp8');
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
    const engine = new Engine(DeepSeekModel.load(dir));
    const r = await collect(engine.generate({ prompt: golden.prompt, maxTokens: golden.greedy_tokens.length, sampling: { temperature: 0 }, stopTokens: [] }));
    assert.deepEqual(r.tokens, golden.greedy_tokens);
    assert.equal(r.done.finishReason, 'length');
  });

  it('greedy with MTP speculation equals plain decoding token for token, and reports acceptance', async () => {
    const model = mtpModel();
    const req: GenerateRequest = { prompt, maxTokens: 40, sampling: { temperature: 0 }, stopTokens: [] };
    const plain = await collect(new Engine(model, { speculative: false, tokenizer: tok }).generate(req));
    const spec = await collect(new Engine(model, { speculative: true, tokenizer: tok }).generate(req));
    assert.deepEqual(spec.tokens, plain.tokens);
    assert.equal(spec.text, plain.text);
    assert.ok(spec.done.usage.draftTokens > 0, 'drafts were proposed');
    assert.ok(spec.done.usage.acceptedTokens <= spec.done.usage.draftTokens);
    assert.equal(plain.done.usage.draftTokens, 0);
  });

  it('sampling is reproducible with a seed, and speculative sampling keeps the distribution', async () => {
    const model = mtpModel(11, { vocab_size: 8192 });
    const short = prompt.slice(0, 6);
    const mk = (speculative: boolean) => new Engine(model, { speculative, tokenizer: tok });
    const req = (seed: number): GenerateRequest => ({ prompt: short, maxTokens: 2, seed, sampling: { temperature: 1.5, topK: 4 }, stopTokens: [] });
    const a = await collect(mk(false).generate(req(42)));
    const b = await collect(mk(false).generate(req(42)));
    assert.deepEqual(a.tokens, b.tokens);
    // the second token's marginal distribution, with and without MTP drafts (which get accepted or rejected)
    const hist = async (speculative: boolean) => {
      const e = mk(speculative);
      const h = new Map<string, number>();
      for (let s = 0; s < 400; s++) {
        const r = await collect(e.generate(req(1000 + s)));
        const k = r.tokens.join(',');
        h.set(k, (h.get(k) ?? 0) + 1);
      }
      return h;
    };
    const [p, q] = [await hist(false), await hist(true)];
    // total variation distance between the two empirical joint distributions of (t1, t2)
    const keys = new Set([...p.keys(), ...q.keys()]);
    let tv = 0;
    for (const k of keys) tv += Math.abs((p.get(k) ?? 0) - (q.get(k) ?? 0)) / 400;
    tv /= 2;
    assert.ok(tv < 0.2, `total variation ${tv}`);
  });

  it('batches concurrent requests with the same results as one at a time', async () => {
    const model = mtpModel();
    const prompts = [prompt, prompt.slice(3), tok.encode('In the beginning God created the heaven and the earth.'), prompt.slice(0, 9)];
    const engine = new Engine(model, { tokenizer: tok, maxBatch: 3 });
    const req = (p: number[]): GenerateRequest => ({ prompt: p, maxTokens: 12, sampling: { temperature: 0 }, stopTokens: [] });
    const together = await Promise.all(prompts.map((p) => collect(engine.generate(req(p)))));
    for (let i = 0; i < prompts.length; i++) {
      const alone = await collect(new Engine(model, { tokenizer: tok }).generate(req(prompts[i]!)));
      assert.deepEqual(together[i]!.tokens, alone.tokens, `prompt ${i}`);
    }
    assert.ok(engine.stats.steps < 4 * 12, `steps ${engine.stats.steps} show sequences were stepped together`);
  });

  it('stop strings spanning tokens are caught and trimmed; EOS ends with finish reason stop', async () => {
    const model = mtpModel(3);
    const engine = new Engine(model, { tokenizer: tok, speculative: false });
    const free = await collect(engine.generate({ prompt, maxTokens: 30, sampling: { temperature: 0 }, stopTokens: [] }));
    assert.ok(free.text.length > 12);
    const stop = free.text.slice(6, 12);
    const cut = await collect(engine.generate({ prompt, maxTokens: 30, sampling: { temperature: 0 }, stop: [stop], stopTokens: [] }));
    assert.equal(cut.text, free.text.slice(0, free.text.indexOf(stop)));
    assert.equal(cut.done.finishReason, 'stop');
    const eos = free.tokens[3]!;
    const r = await collect(engine.generate({ prompt, maxTokens: 30, sampling: { temperature: 0 }, stopTokens: [eos] }));
    assert.deepEqual(r.tokens, free.tokens.slice(0, free.tokens.indexOf(eos)));
    assert.equal(r.done.finishReason, 'stop');
    // the engine's default stop ids (generation_config.json's eos_token_id list) apply when a request names none
    const byDefault = await collect(new Engine(model, { tokenizer: tok, speculative: false, stopTokens: [1, eos] })
      .generate({ prompt, maxTokens: 30, sampling: { temperature: 0 } }));
    assert.deepEqual(byDefault.tokens, r.tokens);
  });

  it('json_object output always parses, over many seeds and budgets', async () => {
    const model = mtpModel(5);
    const engine = new Engine(model, { tokenizer: tok, maxBatch: 8 });
    const runs = await Promise.all(Array.from({ length: 24 }, (_, s) =>
      collect(engine.generate({ prompt, maxTokens: 4 + (s % 6) * 8, seed: s, sampling: { temperature: 1.2 }, json: true }))));
    for (const r of runs) {
      const v = JSON.parse(r.text) as unknown;
      assert.equal(typeof v, 'object');
      assert.ok(v !== null && !Array.isArray(v));
    }
  });

  it('JSON-schema output always parses and satisfies the schema', async () => {
    const model = mtpModel(6);
    const engine = new Engine(model, { tokenizer: tok, maxBatch: 8 });
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, year: { type: 'integer' }, mood: { enum: ['glad', 'grave'] } },
      required: ['name', 'mood'],
      additionalProperties: false,
    };
    const runs = await Promise.all(Array.from({ length: 16 }, (_, s) =>
      collect(engine.generate({ prompt, maxTokens: 3 + (s % 4) * 10, seed: s, sampling: { temperature: 1 }, json: { schema } }))));
    for (const r of runs) {
      const v = JSON.parse(r.text) as Record<string, unknown>;
      assert.equal(typeof v.name, 'string', r.text);
      assert.ok(v.mood === 'glad' || v.mood === 'grave', r.text);
      if ('year' in v) assert.ok(Number.isInteger(v.year), r.text);
      assert.ok(Object.keys(v).every((k) => ['name', 'year', 'mood'].includes(k)), r.text);
    }
  });

  it('the context cache reports hits on a repeated prompt, gives the same tokens, and survives a restart', async () => {
    const model = mtpModel(9);
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-pc-'));
    const long = Array.from({ length: 10 }, () => prompt).flat().slice(0, 150);
    const req: GenerateRequest = { prompt: long, maxTokens: 10, sampling: { temperature: 0 }, stopTokens: [] };
    const e1 = new Engine(model, { tokenizer: tok, prefixCache: new PrefixCache('m', { dir }) });
    const first = await collect(e1.generate(req));
    assert.equal(first.done.usage.cachedTokens, 0);
    const second = await collect(e1.generate(req));
    assert.equal(second.done.usage.cachedTokens, 128);
    assert.deepEqual(second.tokens, first.tokens);
    const e2 = new Engine(model, { tokenizer: tok, prefixCache: new PrefixCache('m', { dir }) });
    const third = await collect(e2.generate(req));
    assert.equal(third.done.usage.cachedTokens, 128);
    assert.deepEqual(third.tokens, first.tokens);
    const other = new Engine(model, { tokenizer: tok, prefixCache: new PrefixCache('another-model', { dir }) });
    assert.equal((await collect(other.generate(req))).done.usage.cachedTokens, 0);
  });

  it("'auto' speculation stops drafting for a sequence whose drafts are rarely accepted", async () => {
    const model = mtpModel(); // random MTP weights: drafts are almost never accepted
    const req: GenerateRequest = { prompt, maxTokens: 40, sampling: { temperature: 0 }, stopTokens: [] };
    const auto = await collect(new Engine(model, { tokenizer: tok }).generate(req));
    const always = await collect(new Engine(model, { tokenizer: tok, speculative: true }).generate(req));
    assert.deepEqual(auto.tokens, always.tokens);
    assert.ok(always.done.usage.acceptedTokens < 0.3 * always.done.usage.draftTokens, 'the fixture has a poor drafter');
    assert.equal(auto.done.usage.draftTokens, 16);
    assert.ok(always.done.usage.draftTokens > 16);
  });

  it('rejects impossible requests clearly', () => {
    const engine = new Engine(mtpModel());
    assert.throws(() => engine.generate({ prompt: [] }), /empty/);
    assert.throws(() => engine.generate({ prompt: [999999] }), /outside the vocabulary/);
    assert.throws(() => engine.generate({ prompt, stop: ['x'] }), /need a tokenizer/);
  });
});
