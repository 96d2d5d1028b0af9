#!/usr/bin/env -S node --import tsx
// How far a checkpoint can look things up in its context, for deciding retrieval-training stages (the numbers
// in models/dsv32-tiny/MODEL_CARD.md, "How retrieval was learned"). Engine forward, dense attention.
//
//   npm run probe:lookup -- DIR
//
//   repeated spans   held-out tokens drawn at random into a span of 2/4/8, repeated to 32 tokens: mean loss on
//                    the first occurrence → on the repeats (fixed-offset copying is enough here)
//   recall           12 windows of the recall-drill family (word + connector → digit value, asked again) on
//                    held-out tokens: loss and argmax accuracy on the first value digit after a repeated key (it
//                    needs the lookup) and on the digits after it
import { readFileSync } from 'node:fs';
import { Checkpoint } from '../src/formats/checkpoint.js';
import { WasmBackend } from '../src/kernels/wasm/backend.js';
import { loadConfig, parseConfig } from '../src/model/config.js';
import { DeepSeekModel } from '../src/model/model.js';
import { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { splitDocuments, tokenizeDocuments } from '../src/train/data.js';
import { DEFAULT_HELDOUT, logSoftmaxAt } from '../src/train/eval.js';
import { Rng } from '../src/train/random.js';
import { CONNECTORS, digitTokens, RetrievalWindows } from '../src/train/retrieval.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npm run probe:lookup -- MODEL_DIR');
const cfg = loadConfig(dir);
const ck = Checkpoint.open(dir);
const backend = await WasmBackend.create();
const model = new DeepSeekModel(parseConfig({ ...cfg.raw, index_topk: 4096 }), ck, backend, { mtp: false });
const tok = Tokenizer.fromDir(dir);
const bos = cfg.bosTokenId, eos = cfg.eosTokenId;
const stream = tokenizeDocuments(splitDocuments(readFileSync(DEFAULT_HELDOUT, 'utf8')), tok, bos, undefined, eos);
const V = cfg.vocabSize;
/** −log p(target) and whether it is the argmax, at row `row` of all-position logits */
const score = (logits: Float32Array, row: number, target: number) => {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[row * V + v]! > logits[row * V + best]!) best = v;
  return { nll: -logSoftmaxAt(logits, row * V, V, target), hit: best === target };
};

const rng = new Rng(3);
const spans: string[] = [];
for (const L of [2, 4, 8]) {
  let first = 0, nf = 0, rep = 0, nr = 0;
  for (let t = 0; t < 8; t++) {
    const span: number[] = [];
    while (span.length < L) { const x = stream[rng.int(stream.length)]!; if (x !== bos && x !== eos) span.push(x); }
    const ids = [bos];
    while (ids.length < 32) ids.push(span[(ids.length - 1) % L]!);
    const { logits } = model.forward(ids, 0, model.newCache(), { logits: 'all' });
    for (let i = 1; i + 1 < ids.length; i++) {
      const { nll } = score(logits, i, ids[i + 1]!);
      if (i + 1 <= L) { first += nll; nf++; } else { rep += nll; nr++; }
    }
  }
  spans.push(`span ${L}: ${(first / nf).toFixed(2)} → ${(rep / nr).toFixed(2)}`);
}
console.log(`repeated spans in 32 tokens (nats, first → repeats): ${spans.join(' | ')}`);

const S = 128;
const gen = new RetrievalWindows(tok, stream, S, bos, eos, 77, 'recall');
const conn = new Set(CONNECTORS.map((c) => tok.encode(c, { allowSpecial: false })[0]!));
const digit = new Set(digitTokens(tok));
const acc = { first: { nll: 0, hit: 0, n: 0 }, later: { nll: 0, hit: 0, n: 0 } };
for (let w = 0; w < 12;) {
  const ids = gen.window()!;
  if (/Remember|What is|hidden/.test(tok.decode([...ids]))) continue; // a passkey window, not a drill
  w++;
  const { logits } = model.forward([...ids], 0, model.newCache(), { logits: 'all' });
  const firstAt = new Map<string, number>(); // "word,connector" → position of its first value token
  for (let j = 1; j + 2 < S; j++) {
    if (!conn.has(ids[j + 1]!)) continue;
    const key = `${ids[j]},${ids[j + 1]}`;
    const at = firstAt.get(key);
    if (at === undefined) { firstAt.set(key, j + 2); continue; }
    const k0 = digit.has(ids[at]!) ? 0 : 1; // skip a leading space token
    for (let q = k0; at + q < S && j + 2 + q < S && digit.has(ids[at + q]!); q++) {
      if (ids[j + 2 + q] !== ids[at + q]) break;
      const r = score(logits, j + 1 + q, ids[at + q]!);
      const a = q === k0 ? acc.first : acc.later;
      a.nll += r.nll; a.n++; if (r.hit) a.hit++;
    }
  }
}
const fmt = (a: { nll: number; hit: number; n: number }) => `${(a.nll / a.n).toFixed(2)} nats, ${Math.round((100 * a.hit) / a.n)} % (n ${a.n})`;
console.log(`recall drills (${S} tokens): first value digit after a repeated key ${fmt(acc.first)}; later digits ${fmt(acc.later)}`);
await backend.close();
ck.close();
