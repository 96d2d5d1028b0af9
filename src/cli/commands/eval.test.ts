// dsv32 eval on a tiny model folder: report shape, finite numbers, dense = sparse when top-k covers the
// context, sparse ≠ dense when it does not, passkey prompts of the exact length, and the CLI's --json.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../model/config.js';
import { repoRoot } from '../../testing/fixtures.js';
import { tinyConfigJson } from '../../testing/tiny-config.js';
import { Tokenizer } from '../../tokenizer/tokenizer.js';
import { saveCheckpoint } from '../../train/checkpoint.js';
import { copyingNll, evaluate, keyRanksFirst, needlePrompt } from '../../train/eval.js';
import { DeepSeekModel } from '../../model/model.js';
import { ParamStore } from '../../train/params.js';
import { Rng } from '../../train/random.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv32-eval-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function modelDir(name: string, topk: number): string {
  const d = join(dir, name);
  const raw = tinyConfigJson({ vocab_size: 8192, max_position_embeddings: 512, index_topk: topk, num_nextn_predict_layers: 1 });
  const params = new ParamStore(parseConfig(raw)).initRandom(3);
  // a sharper random model (larger embedding/head) so attention patterns, hence selection, matter
  for (const n of ['model.embed_tokens.weight', 'lm_head.weight']) params.get(n).data.forEach((v, i, a) => { a[i] = v * 4; });
  saveCheckpoint(d, params);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(repoRoot, 'data/tokenizer', f), join(d, f));
  return d;
}

const sparseDir = modelDir('sparse', 8);
const denseDir = modelDir('dense', 1024);
const TEXT = Array.from({ length: 6 }, (_, i) => `Document ${i}. Then Mary took a pound of ointment of pure nard, very precious, and anointed the feet of Jesus.\n` +
  'Mr. Woodhouse was fond of society in his own way. He liked very much to have his friends come and see him.').join('\n\n');
const textFile = join(dir, 'heldout.txt');
writeFileSync(textFile, TEXT);

describe('dsv32 eval', () => {
  it('report: finite perplexities, needle rows at 1× and 2× the chunk length; dense = sparse iff top-k covers the context', async () => {
    const opts = { text: TEXT, seq: 64, trials: 2, needleMultiples: [1, 2] };
    const r = await evaluate({ model: sparseDir, ...opts });
    assert.ok(Number.isFinite(r.perplexity.dense) && r.perplexity.dense > 1);
    assert.ok(Number.isFinite(r.perplexity.sparse) && r.perplexity.sparse > 1);
    assert.notEqual(r.perplexity.dense, r.perplexity.sparse, 'top-8 of up to 64 keys must change the scores');
    assert.deepEqual(r.needle.map((n) => n.ctx), [64, 128]);
    assert.deepEqual(r.perplexity_by_ctx.map((p) => p.ctx), [64, 128]);
    assert.deepEqual(r.perplexity_by_ctx[0], { ctx: 64, ...r.perplexity });
    assert.ok(r.perplexity_by_ctx.every((p) => Number.isFinite(p.dense) && Number.isFinite(p.sparse)));
    for (const n of r.needle) for (const a of [n.dense_acc, n.sparse_acc]) assert.ok(a >= 0 && a <= 1 && Number.isFinite(a));
    assert.equal(r.meta.index_topk, 8);
    assert.ok(r.meta.tokens_scored > 150 && r.meta.chunks === Math.ceil(r.meta.tokens_scored / 63));
    const d = await evaluate({ model: denseDir, ...opts });
    assert.equal(d.perplexity.dense, d.perplexity.sparse, 'top-k ≥ context: DSA selects every key');
    for (const p of d.perplexity_by_ctx) assert.equal(p.dense, p.sparse);
    assert.deepEqual(d.needle.map((n) => n.dense_acc), d.needle.map((n) => n.sparse_acc));
  });

  it('key ranking scores each candidate as a full forward of prompt + key would; copying splits first occurrence from repeats', () => {
    const tok = Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
    const model = DeepSeekModel.load(sparseDir, { mtp: false });
    const V = model.cfg.vocabSize;
    const p = needlePrompt(tok, 0, 64, new Rng(3));
    const keys = ['12345', '70001', '99', '4821937', '55555'];
    // brute force: the whole sequence in one forward, log-probabilities of the key tokens summed
    const full = (k: string) => {
      const ids = tok.encode(` ${k}`, { allowSpecial: false });
      const { logits } = model.forward([...p.ids, ...ids], 0, model.newCache(), { logits: 'all' });
      let s = 0;
      ids.forEach((t, j) => {
        const o = (p.ids.length - 1 + j) * V;
        let m = -Infinity; for (let v = 0; v < V; v++) m = Math.max(m, logits[o + v]!);
        let z = 0; for (let v = 0; v < V; v++) z += Math.exp(logits[o + v]! - m);
        s += logits[o + t]! - m - Math.log(z);
      });
      return s;
    };
    const order = [...keys].sort((a, b) => full(b) - full(a));
    assert.equal(keyRanksFirst(model, tok, p.ids, order), true, 'the best-scoring key ranks first');
    assert.equal(keyRanksFirst(model, tok, p.ids, [...order].reverse()), false, 'the worst does not');
    const span = Int32Array.from(tok.encode(' It is a truth universally acknowledged that a single man', { allowSpecial: false }));
    const c = copyingNll(model, span, 64, 0);
    assert.ok(c.first > 0 && c.repeats > 0 && c.first !== c.repeats);
  });

  it('passkey prompts have exactly the requested length and carry the key', () => {
    const tok = Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
    const rng = new Rng(1);
    for (const ctx of [64, 256, 1000]) {
      const p = needlePrompt(tok, 0, ctx, rng);
      assert.equal(p.ids.length, ctx);
      assert.match(p.key, /^\d{5}$/);
      const text = tok.decode(p.ids.slice(1));
      assert.equal(text.split(`The pass key is ${p.key}.`).length, 2);
      assert.ok(text.endsWith('What is the pass key? The pass key is'));
    }
    assert.throws(() => needlePrompt(tok, 0, 20, rng), /too short/);
  });

  it('CLI --quick --json prints the documented shape', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'eval', '--model', sparseDir, '--data', textFile, '--seq', '64', '--quick', '--json', '--trials', '1'],
      { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j).sort(), ['copying', 'meta', 'needle', 'perplexity', 'perplexity_by_ctx']);
    assert.deepEqual((j.perplexity_by_ctx as { ctx: number }[]).map((p) => p.ctx), [64, 128, 256]);
    assert.deepEqual(Object.keys(j.perplexity as object).sort(), ['dense', 'sparse']);
    const needle = j.needle as Record<string, number>[];
    assert.deepEqual(needle.map((n) => n.ctx), [64, 128, 256]);
    for (const n of needle) assert.deepEqual(Object.keys(n).sort(), ['ctx', 'dense_acc', 'dense_rank', 'sparse_acc', 'sparse_rank']);
    const c = j.copying as { span: number; dense: { first: number; repeats: number } };
    assert.ok(c.span > 0 && Number.isFinite(c.dense.first) && Number.isFinite(c.dense.repeats));
    const bad = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'eval', '--model', join(dir, 'none')], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--model: .*none has no config.json/);
  });
});
