// Evaluation of a model folder with the INFERENCE engine (DeepSeekModel.forward, the code that serves
// the model), dense attention next to DeepSeek Sparse Attention:
//   perplexity  teacher-forced BOS-led chunks of held-out text (the training windows' shape)
//   needle      passkey retrieval: a random 5-digit key hidden at a random depth in filler text, then
//               the question; a trial passes when the greedy continuation contains the key. Run at
//               several context lengths, including beyond the training length. A softer score beside it:
//               how often the true key out-scores 9 random decoys (teacher-forced log-probability; chance
//               10 %), which registers partial retrieval that exact match misses.
//   copying     a held-out span repeated to fill a chunk: loss on its first occurrence vs on the repeats.
//               A model that can copy from context (induction) predicts the repeats far better.
// "Dense" is the same checkpoint with index_topk raised above every context evaluated, so the indexer
// selects every key; "sparse" uses the checkpoint's own index_topk.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from '../formats/checkpoint.js';
import type { Backend } from '../kernels/backend.js';
import { PortableBackend } from '../kernels/portable.js';
import { WasmBackend } from '../kernels/wasm/backend.js';
import { loadConfig, parseConfig } from '../model/config.js';
import { DeepSeekModel } from '../model/model.js';
import { DEFAULT_MODEL_DIR, packageRoot } from '../runtime/runtime.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { evalChunks, splitDocuments, tokenizeDocuments } from './data.js';
import { LOG_FILE } from './log.js';
import { Rng } from './random.js';

/** The bundled model and the corpus builder's held-out file, found from the package root (any cwd). */
export const DEFAULT_EVAL_MODEL = DEFAULT_MODEL_DIR;
export const DEFAULT_HELDOUT = join(packageRoot, 'data', 'corpus', 'heldout.txt');

export interface EvalOptions {
  model: string;
  /** held-out text file (default data/corpus/heldout.txt) or inline text */
  data?: string;
  text?: string;
  /** chunk length for perplexity and the unit of the needle lengths (default: the training --seq, else 256) */
  seq?: number;
  /** held-out tokens scored (default all; quick: 4096) */
  maxTokens?: number;
  /** needle context lengths as multiples of seq (default 1, 2, 4) */
  needleMultiples?: number[];
  /** trials per context length (default 20; quick: 6) */
  trials?: number;
  quick?: boolean;
  seed?: number;
  backend?: 'wasm' | 'portable';
  onProgress?: (what: string, done: number, total: number) => void;
}

export interface NeedleRow {
  ctx: number;
  dense_acc: number;
  sparse_acc: number;
  /** share of trials where the true key's log-probability beats all 9 decoys (chance 0.1) */
  dense_rank: number;
  sparse_rank: number;
}

/** Mean next-token NLL (nats) on a span's first occurrence and on its repeats. */
export interface CopyingScore {
  first: number;
  repeats: number;
}

export interface PerplexityRow {
  ctx: number;
  dense: number;
  sparse: number;
}

export interface EvalReport {
  perplexity: { dense: number; sparse: number };
  needle: NeedleRow[];
  /** perplexity with chunks of 1×, 2×, 4×… the training length (same text): how each attention extrapolates */
  perplexity_by_ctx: PerplexityRow[];
  copying: { span: number; dense: CopyingScore; sparse: CopyingScore };
  /** how it was measured */
  meta: {
    model: string;
    seq: number;
    index_topk: number | null;
    tokens_scored: number;
    chunks: number;
    trials: number;
    sparse_vs_dense_ppl: number;
    seconds: number;
  };
}

/** The training sequence length recorded in the model's train_log.json (last stage), if any. */
export function trainedSeq(dir: string): number | null {
  const p = join(dir, LOG_FILE);
  if (!existsSync(p)) return null;
  try {
    const log = JSON.parse(readFileSync(p, 'utf8')) as { stages?: { options?: { seq?: unknown } }[] };
    const seq = log.stages?.[log.stages.length - 1]?.options?.seq;
    return typeof seq === 'number' && Number.isInteger(seq) && seq >= 2 ? seq : null;
  } catch {
    return null;
  }
}

/** The checkpoint twice on one backend: as configured (sparse) and with top-k ≥ every context (dense). */
function loadPair(dir: string, backend: Backend, maxCtx: number): { dense: DeepSeekModel; sparse: DeepSeekModel } {
  const cfg = loadConfig(dir);
  const ck = Checkpoint.open(dir);
  try {
    const sparse = new DeepSeekModel(cfg, ck, backend, { mtp: false });
    const dense = cfg.indexer ? new DeepSeekModel(parseConfig({ ...cfg.raw, index_topk: Math.max(maxCtx, cfg.indexer.topk) }), ck, backend, { mtp: false }) : sparse;
    return { dense, sparse };
  } finally {
    ck.close();
  }
}

/** Mean next-token NLL (nats) over every chunk position but the last, and the count of predictions. */
export function chunkNll(model: DeepSeekModel, chunk: Int32Array): { nll: number; n: number } {
  const V = model.cfg.vocabSize;
  const { logits } = model.forward(chunk, 0, model.newCache(), { logits: 'all' });
  let nll = 0;
  for (let i = 0; i + 1 < chunk.length; i++) nll -= logSoftmaxAt(logits, i * V, V, chunk[i + 1]!);
  return { nll, n: chunk.length - 1 };
}

const FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ';

export interface NeedlePrompt {
  ids: number[];
  key: string;
}

/**
 * A passkey prompt of exactly `ctx` tokens (BOS included): instruction, filler, the key line at a random
 * depth, more filler, the question. The filler is cut at token granularity to hit the length.
 */
export function needlePrompt(tok: Tokenizer, bos: number, ctx: number, rng: Rng): NeedlePrompt {
  const key = String(10000 + rng.int(90000));
  const head = tok.encode('There is a pass key hidden in this text. Remember it.\n', { allowSpecial: false });
  const needle = tok.encode(` The pass key is ${key}. Remember it. ${key} is the pass key. `, { allowSpecial: false });
  const question = tok.encode('\nWhat is the pass key? The pass key is', { allowSpecial: false });
  const fillUnit = tok.encode(FILLER, { allowSpecial: false });
  const room = ctx - 1 - head.length - needle.length - question.length;
  if (room < 0) throw new Error(`needle: a context of ${ctx} tokens is too short for the prompt (needs ${ctx - room})`);
  const filler: number[] = [];
  while (filler.length < room) filler.push(...fillUnit);
  filler.length = room;
  // the key line goes between two whole filler units (10–90% deep), so it starts cleanly
  const units = Math.floor(room / fillUnit.length);
  const depth = Math.min(room, fillUnit.length * Math.round(units * (0.1 + 0.8 * rng.next())));
  const ids = [bos, ...head, ...filler.slice(0, depth), ...needle, ...filler.slice(depth), ...question];
  return { ids, key };
}

/** Greedy continuation of up to `n` tokens (stops at EOS). */
export function greedyContinue(model: DeepSeekModel, prompt: number[], n: number): number[] {
  const V = model.cfg.vocabSize;
  const cache = model.newCache();
  const argmax = (l: Float32Array) => { let b = 0; for (let i = 1; i < V; i++) if (l[i]! > l[b]!) b = i; return b; };
  let next = argmax(model.forward(prompt, 0, cache).logits);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(next);
    if (next === model.cfg.eosTokenId || i + 1 === n) break;
    next = argmax(model.forward([next], prompt.length + i, cache).logits);
  }
  return out;
}

/** log p(t) at row offset o of logits over a vocabulary of V. */
export function logSoftmaxAt(logits: Float32Array, o: number, V: number, t: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v]! > m) m = logits[o + v]!;
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logits[o + v]! - m);
  return logits[o + t]! - m - Math.log(z);
}

/** Whether the true key (candidates[0]) gets the highest teacher-forced log-probability after the prompt. */
export function keyRanksFirst(model: DeepSeekModel, tok: Tokenizer, prompt: number[], candidates: string[]): boolean {
  const V = model.cfg.vocabSize;
  const cache = model.newCache();
  const last = model.forward(prompt, 0, cache).logits.slice();
  const scores = candidates.map((k) => {
    const ids = tok.encode(` ${k}`, { allowSpecial: false });
    let s = logSoftmaxAt(last, 0, V, ids[0]!);
    if (ids.length > 1) {
      // each candidate overwrites the same cache positions after the prompt
      const r = model.forward(ids.slice(0, -1), prompt.length, cache, { logits: 'all' });
      for (let j = 1; j < ids.length; j++) s += logSoftmaxAt(r.logits, (j - 1) * V, V, ids[j]!);
    }
    return s;
  });
  return scores.every((s, j) => j === 0 || s < scores[0]!);
}

/** BOS + one held-out span repeated to `len` tokens: NLL of its first occurrence and of the repeats. */
export function copyingNll(model: DeepSeekModel, span: Int32Array, len: number, bos: number): CopyingScore {
  const L = span.length;
  const ids = [bos];
  while (ids.length < len) ids.push(span[(ids.length - 1) % L]!);
  const V = model.cfg.vocabSize;
  const { logits } = model.forward(ids, 0, model.newCache(), { logits: 'all' });
  let first = 0, nf = 0, rep = 0, nr = 0;
  for (let i = 1; i + 1 < ids.length; i++) {
    const nll = -logSoftmaxAt(logits, i * V, V, ids[i + 1]!);
    if (i + 1 <= L) { first += nll; nf++; } else { rep += nll; nr++; }
  }
  return { first: first / nf, repeats: rep / nr };
}

export async function evaluate(o: EvalOptions): Promise<EvalReport> {
  const t0 = performance.now();
  const dir = o.model;
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`--model: ${dir} has no config.json (not a model folder)`);
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`--model: ${dir} has no tokenizer.json`);
  const seq = o.seq ?? trainedSeq(dir) ?? 256;
  if (!Number.isInteger(seq) || seq < 2) throw new Error(`--seq: must be an integer ≥ 2 (got ${seq})`);
  const multiples = o.needleMultiples ?? [1, 2, 4];
  const trials = o.trials ?? (o.quick ? 6 : 20);
  const maxTokens = o.maxTokens ?? (o.quick ? 4096 : Infinity);
  const tok = Tokenizer.fromDir(dir);

  let text = o.text;
  if (text === undefined) {
    const path = o.data ?? DEFAULT_HELDOUT;
    if (!existsSync(path)) throw new Error(`--data: ${path} does not exist${o.data ? '' : ' (run `npm run build:corpus`, or pass --data FILE)'}`);
    text = readFileSync(path, 'utf8');
  }
  const cfg = loadConfig(dir);
  const bos = cfg.bosTokenId;
  const stream = tokenizeDocuments(splitDocuments(text), tok, bos);
  const chunksOf = (len: number) => evalChunks(stream, len, bos, Math.max(1, Math.ceil(maxTokens / (len - 1))));
  const chunks = chunksOf(seq);
  if (!chunks.length) throw new Error('--data: no held-out text to score');
  const ctxs = multiples.map((m) => Math.round(m * seq));
  const maxCtx = Math.max(seq, ...ctxs);
  if (maxCtx > cfg.maxPositions) throw new Error(`needle context ${maxCtx} exceeds the model's max_position_embeddings (${cfg.maxPositions})`);

  let backend: Backend;
  if (o.backend === 'portable') backend = new PortableBackend();
  else {
    try {
      backend = await WasmBackend.create();
    } catch {
      backend = new PortableBackend();
    }
  }
  try {
    const { dense, sparse } = loadPair(dir, backend, maxCtx);
    const progress = o.onProgress ?? (() => {});
    const score = (cs: Int32Array[], what: string) => {
      let nD = 0, nS = 0, count = 0;
      cs.forEach((c, i) => {
        const d = chunkNll(dense, c);
        const s = chunkNll(sparse, c);
        nD += d.nll;
        nS += s.nll;
        count += d.n;
        progress(what, i + 1, cs.length);
      });
      return { dense: Math.exp(nD / count), sparse: Math.exp(nS / count), count };
    };
    const main = score(chunks, 'perplexity');
    const count = main.count;
    const perplexity = { dense: main.dense, sparse: main.sparse };
    const byCtx: PerplexityRow[] = [{ ctx: seq, ...perplexity }];
    for (const ctx of ctxs) {
      if (ctx <= seq) continue;
      const r = score(chunksOf(ctx), `perplexity at ${ctx}`);
      byCtx.push({ ctx, dense: r.dense, sparse: r.sparse });
    }

    const rng = new Rng(o.seed ?? 7);
    const needle: NeedleRow[] = [];
    let done = 0;
    for (const ctx of ctxs) {
      let okD = 0, okS = 0, rankD = 0, rankS = 0;
      for (let t = 0; t < trials; t++) {
        const p = needlePrompt(tok, bos, ctx, rng);
        const hit = (m: DeepSeekModel) => tok.decode(greedyContinue(m, p.ids, 8)).includes(p.key);
        if (hit(dense)) okD++;
        if (hit(sparse)) okS++;
        const candidates = [p.key, ...Array.from({ length: 9 }, () => String(10000 + rng.int(90000)))];
        if (keyRanksFirst(dense, tok, p.ids, candidates)) rankD++;
        if (keyRanksFirst(sparse, tok, p.ids, candidates)) rankS++;
        progress('needle', ++done, ctxs.length * trials);
      }
      needle.push({ ctx, dense_acc: okD / trials, sparse_acc: okS / trials, dense_rank: rankD / trials, sparse_rank: rankS / trials });
    }
    // copying: spans of 32 held-out tokens (skipping document boundaries) repeated to one chunk
    const SPAN = Math.min(32, Math.floor((seq - 1) / 2));
    const copy = { dense: { first: 0, repeats: 0 }, sparse: { first: 0, repeats: 0 } };
    const copyTrials = Math.max(2, Math.floor(trials / 2));
    for (let t = 0; t < copyTrials; t++) {
      // a span inside one document if one turns up (texts of very short documents may have none)
      let o = rng.int(Math.max(1, stream.length - SPAN));
      for (let tries = 0; tries < 64 && stream.subarray(o, o + SPAN).includes(bos); tries++) o = rng.int(Math.max(1, stream.length - SPAN));
      const span = stream.subarray(o, o + SPAN);
      for (const [k, m] of [['dense', dense], ['sparse', sparse]] as const) {
        const c = copyingNll(m, span, seq, bos);
        copy[k].first += c.first / copyTrials;
        copy[k].repeats += c.repeats / copyTrials;
      }
      progress('copying', t + 1, copyTrials);
    }
    return {
      perplexity,
      needle,
      perplexity_by_ctx: byCtx,
      copying: { span: SPAN, ...copy },
      meta: {
        model: dir, seq, index_topk: cfg.indexer?.topk ?? null, tokens_scored: count, chunks: chunks.length, trials,
        sparse_vs_dense_ppl: perplexity.sparse / perplexity.dense - 1, seconds: (performance.now() - t0) / 1000,
      },
    };
  } finally {
    if (backend instanceof WasmBackend) await backend.close();
  }
}
