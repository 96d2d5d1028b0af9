// HTTP server throughput: one SSE stream against 16 concurrent streams on loopback, with continuous
// batching (max-batch 16) and without it (max-batch 1, the same 16 requests queue), plus time to first
// token and the process RSS around each phase; each phase is the best of a few rounds. Server and client share this process (the client is a few
// fetch streams); every phase has a hard time limit.
//
//   npm run bench:server [-- --model DIR] [--backend wasm|portable] [--threads 1] [--streams 16] [--tokens 64]
//
// Without --model it serves models/dsv32-tiny when present, else random weights in the bundled model's
// shape (src/train/default-model.ts: 8192 vocab, hidden 128, MLA + indexer, dense + MoE layer) with our
// tokenizer. MTP drafting is off so that every stream does the same work. One wasm thread by default:
// on a shared 2-core machine a second kernel thread mostly measures the neighbours.
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/model/config.js';
import { DeepSeekModel } from '../src/model/model.js';
import { MapSource, syntheticTensors } from '../src/model/synthetic.js';
import { createBackend, DEFAULT_MODEL_DIR, loadRuntime } from '../src/runtime/runtime.js';
import { createApp } from '../src/server/app.js';
import { serveModel } from '../src/server/served-model.js';
import { repoTokenizer } from '../src/server/testing.js';
import { defaultModelConfig } from '../src/train/default-model.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    streams: { type: 'string', default: '16' },
    tokens: { type: 'string', default: '64' },
  },
});
const STREAMS = Number(args.streams);
const TOKENS = Number(args.tokens);
const backendName = args.backend === 'portable' ? 'portable' : 'wasm';
const THREADS = Number(args.threads);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const rss = () => process.memoryUsage().rss;

async function loadModel(): Promise<{ model: DeepSeekModel; tokenizer: Tokenizer; label: string; close(): Promise<void> }> {
  const dir = args.model ?? (existsSync(join(DEFAULT_MODEL_DIR, 'config.json')) ? DEFAULT_MODEL_DIR : null);
  if (dir) {
    const rt = await loadRuntime(dir, { backend: backendName, threads: THREADS });
    if (!rt.tokenizer) throw new Error(`${dir}: no tokenizer.json`);
    return { model: rt.model, tokenizer: rt.tokenizer, label: dir, close: rt.close };
  }
  const cfg = parseConfig(defaultModelConfig());
  const backend = await createBackend({ backend: backendName, threads: THREADS });
  const model = new DeepSeekModel(cfg, new MapSource(syntheticTensors(cfg, { seed: 7 })), backend);
  return { model, tokenizer: repoTokenizer(), label: 'random weights in the models/dsv32-tiny shape', close: async () => { await (backend as { close?: () => Promise<void> }).close?.(); } };
}

interface StreamResult { tokens: number; ttft: number; total: number }

async function stream(url: string, i: number, signal: AbortSignal): Promise<StreamResult> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    signal,
    body: JSON.stringify({
      model: 'deepseek-chat', stream: true, stream_options: { include_usage: true }, max_tokens: TOKENS, seed: i,
      messages: [{ role: 'user', content: `Question ${i}: what happened in chapter ${i % 7} of the story?` }],
    }),
  });
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  let ttft = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    if (!ttft && text.includes('"content":"') && /"content":"[^"]/.test(text)) ttft = performance.now() - t0;
  }
  const total = performance.now() - t0;
  const usage = text.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).at(-1).usage;
  return { tokens: usage.completion_tokens, ttft, total };
}

interface Phase { label: string; streams: number; batch: number; tokens: number; seconds: number; tokPerS: number; ttftMed: number; ttftMax: number; rssAfter: number }

/** Best of `rounds` runs of `streams` concurrent requests on a server with this max-batch. */
async function phase(label: string, model: DeepSeekModel, tokenizer: Tokenizer, streams: number, batch: number, seedBase: number, rounds = 3): Promise<Phase> {
  const served = serveModel(model, tokenizer, { id: 'bench', maxBatch: batch, maxQueue: streams, speculative: false });
  const app = createApp({ models: [served] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    await stream(url, seedBase - 1, AbortSignal.timeout(60_000)); // warm-up
    let best: Phase | null = null;
    for (let round = 0; round < rounds; round++) {
      const signal = AbortSignal.timeout(300_000);
      const t = performance.now();
      const results = await Promise.all(Array.from({ length: streams }, (_, i) => stream(url, seedBase + round * streams + i, signal)));
      const seconds = (performance.now() - t) / 1000;
      const tokens = results.reduce((a, r) => a + r.tokens, 0);
      const ttfts = results.map((r) => r.ttft).sort((a, b) => a - b);
      const p = { label, streams, batch, tokens, seconds, tokPerS: tokens / seconds, ttftMed: ttfts[Math.floor(ttfts.length / 2)]!, ttftMax: ttfts.at(-1)!, rssAfter: rss() };
      if (!best || p.tokPerS > best.tokPerS) best = p;
    }
    return best!;
  } finally {
    await app.close();
  }
}

/** The same load straight on the engine (no HTTP, no parsing), to show what the server layer costs. */
async function enginePhase(label: string, model: DeepSeekModel, tokenizer: Tokenizer, streams: number, batch: number, seedBase: number, rounds = 3): Promise<Phase> {
  const served = serveModel(model, tokenizer, { id: 'bench', maxBatch: batch, maxQueue: streams, speculative: false });
  const prompt = (i: number) => tokenizer.encode(`<｜begin▁of▁sentence｜><｜User｜>Question ${i}: what happened in chapter ${i % 7} of the story?<｜Assistant｜></think>`);
  const run = async (i: number) => {
    let n = 0;
    for await (const ev of served.engine.generate({ prompt: prompt(i), maxTokens: TOKENS, seed: i })) if (ev.type === 'token' && ev.token >= 0) n++;
    return n;
  };
  await run(seedBase - 1);
  let best: Phase | null = null;
  for (let round = 0; round < rounds; round++) {
    const t = performance.now();
    const counts = await Promise.all(Array.from({ length: streams }, (_, i) => run(seedBase + round * streams + i)));
    const seconds = (performance.now() - t) / 1000;
    const tokens = counts.reduce((a, b) => a + b, 0);
    const p = { label, streams, batch, tokens, seconds, tokPerS: tokens / seconds, ttftMed: NaN, ttftMax: NaN, rssAfter: rss() };
    if (!best || p.tokPerS > best.tokPerS) best = p;
  }
  return best!;
}

const rss0 = rss();
const m = await loadModel();
const rssLoaded = rss();
console.log(`# dsv32 server bench — ${cpus()[0]?.model} ×${cpus().length}, Node ${process.version}, load avg ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`# model: ${m.label}; backend ${backendName}${backendName === 'wasm' ? ` (${THREADS} thread${THREADS > 1 ? 's' : ''})` : ''}; ${TOKENS} tokens per stream; RSS ${mib(rss0)} at start, ${mib(rssLoaded)} loaded\n`);
const single = await phase('1 stream', m.model, m.tokenizer, 1, STREAMS, 1000, 5);
const batched = await phase(`${STREAMS} streams, max-batch ${STREAMS}`, m.model, m.tokenizer, STREAMS, STREAMS, 2000);
const queued = await phase(`${STREAMS} streams, max-batch 1`, m.model, m.tokenizer, STREAMS, 1, 3000);
const engineSingle = await enginePhase('engine only: 1 stream', m.model, m.tokenizer, 1, STREAMS, 5000, 5);
const engineBatched = await enginePhase(`engine only: ${STREAMS} streams, max-batch ${STREAMS}`, m.model, m.tokenizer, STREAMS, STREAMS, 6000);
console.log('Best of 5 (1 stream) or 3 (16 streams) rounds.\n');
console.log('| run | tokens | wall | aggregate tok/s | vs 1 stream | TTFT median / max | RSS after |');
console.log('|---|---|---|---|---|---|---|');
for (const p of [single, batched, queued, engineSingle, engineBatched]) {
  const base = p.label.startsWith('engine') ? engineSingle : single;
  const ttft = Number.isNaN(p.ttftMed) ? '—' : `${p.ttftMed.toFixed(0)} / ${p.ttftMax.toFixed(0)} ms`;
  console.log(`| ${p.label} | ${p.tokens} | ${p.seconds.toFixed(2)} s | ${p.tokPerS.toFixed(1)} | ${(p.tokPerS / base.tokPerS).toFixed(2)}× | ${ttft} | ${mib(p.rssAfter)} |`);
}
console.log(`\n# RSS: ${mib(rss0)} start → ${mib(rssLoaded)} model loaded → ${mib(rss())} after all runs; load avg now ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
await m.close();
