// End-to-end benchmark: dsv32 (WasmBackend, native and q8 weights) against llama.cpp (node-llama-cpp, CPU)
// on the same weights — a random V3.2-shaped checkpoint big enough to be bandwidth-bound, exported to GGUF by
// `dsv32 export-gguf` — with the same thread count, side by side in one run; then dense vs DSA attention at
// long contexts; read bandwidth measured in the same run gives each decode its roofline fraction.
//
//   npm run bench [-- --quick] [--threads 2] [--rounds N] [--contexts 1024,4096,16384,65536] [--skip-parity]
//
// Writes bench/RESULTS.md (its "## End to end" section), bench/e2e.svg and bench/results.json (bench/e2e-report.ts). Every engine
// runs in its own child process, so peak RSS is its own. Needs `npm run bench:setup` for llama.cpp (without
// it the llama.cpp columns are skipped and say so).
import { tinyConfigJson } from '../src/testing/tiny-config.js';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../src/kernels/backend.js';
import { WasmBackend } from '../src/kernels/wasm/backend.js';
import { ensureWasmBuilt } from '../src/kernels/wasm/testutil.js';
import type { ModelCache } from '../src/model/cache.js';
import { loadConfig } from '../src/model/config.js';
import { DeepSeekModel } from '../src/model/model.js';
import { type ParityRow, runParity, type TokenizerParity, tokenizerParity } from './llamacpp-parity.js';
import { nativeGemm } from '../src/kernels/native.js';
import { measureReadBandwidth } from './llamacpp/bandwidth.js';
import { llamaCppInstalled, LlamaCppRunner } from './llamacpp/engine.js';
import { benchOut, configVariant, ggufOf, syntheticModel } from './llamacpp/models.js';
import { engineLabel, f1, mib, writeReports } from './e2e-report.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDir, '..');

// ---- the benchmark model ----------------------------------------------------------------------------

/**
 * V3.2's shape scaled down: MLA with V3.2's head dims (nope 128, rope 64, v 128, latent 512), its YaRN, top-k
 * 2048 selection, grouped sigmoid routing. Attention FLOPs per cached key relative to the weights a token
 * reads are V3.2's (16 heads·1088 per key against ~72M activated weights per layer, as 128 heads against ~600M),
 * and the indexer has half as many heads as attention, as V3.2 (64 for 128). The full model is ~0.83B
 * parameters (1.65 GB bf16), ~0.29B activated per token.
 */
export function benchConfig(quick: boolean): Record<string, unknown> {
  const base = tinyConfigJson({
    vocab_size: 32000, hidden_size: 2048, intermediate_size: 6144, moe_intermediate_size: 1024,
    num_hidden_layers: 4, num_attention_heads: 16, num_key_value_heads: 16,
    n_routed_experts: 32, num_experts_per_tok: 6, n_group: 4, topk_group: 2,
    q_lora_rank: 768, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    index_n_heads: 8, index_head_dim: 128, index_topk: 2048,
    rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    max_position_embeddings: 163840,
  });
  if (!quick) return base;
  // quick: the same shape at a quarter of the size (~0.1B parameters)
  return { ...base, vocab_size: 16000, hidden_size: 1024, intermediate_size: 3072, moe_intermediate_size: 512,
    num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 8, n_routed_experts: 16, num_experts_per_tok: 4, q_lora_rank: 384, index_n_heads: 4 };
}

// ---- arguments ----------------------------------------------------------------------------------------

export interface Args {
  quick: boolean;
  threads: number;
  rounds: number;
  contexts: number[];
  prompt: number;
  steps: number;
  skipParity: boolean;
  skipLong: boolean;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const val = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const num = (k: string, d: number) => { const v = val(k); if (v === undefined) return d; const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new Error(`${k} must be a positive integer`); return n; };
  const contexts = val('--contexts')?.split(',').map(Number) ?? (quick ? [1024, 4096] : [1024, 4096, 16384, 65536]);
  if (contexts.some((c) => !Number.isInteger(c) || c < 64)) throw new Error('--contexts: comma-separated integers ≥ 64');
  return {
    quick,
    threads: num('--threads', 2),
    rounds: num('--rounds', quick ? 1 : 3),
    contexts,
    prompt: num('--prompt', quick ? 128 : 512),
    steps: num('--steps', quick ? 8 : 32),
    skipParity: argv.includes('--skip-parity'),
    skipLong: argv.includes('--skip-long'),
  };
}

// ---- helpers ---------------------------------------------------------------------------------------------

function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return 2 + (s % (vocab - 2)); });
}

const argmax = (v: Float32Array) => { let b = 0; for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i; return b; };
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
const now = () => performance.now();

// ---- child: one engine at a short context ------------------------------------------------------------

interface EngineSpec {
  kind: 'engine';
  label: string;
  engine: 'dsv32' | 'llamacpp';
  /** dsv32: native | q8; llama.cpp: the GGUF file */
  weights: 'native' | 'q8';
  dir: string;
  gguf?: string;
  flash?: boolean;
  /** dsv32: prefill-sized products through the optional native GEMM (OpenBLAS); otherwise wasm only */
  blas?: boolean;
  prompt: number;
  steps: number;
  threads: number;
  reps: number;
}

export interface EngineResult {
  label: string;
  engine: 'dsv32' | 'llamacpp';
  weights: 'native' | 'q8';
  threads: number;
  loadS: number;
  prefillTokS: number;
  decodeMsPerToken: number;
  decodeTokS: number;
  decodeBestMs: number;
  /** the decode positions measured: after the prompt */
  context: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
  /** dsv32: ms in each backend call during the last prefill, and that prefill's ms */
  prefillOps?: OpTimes;
  prefillMs?: number;
}

async function runEngine(s: EngineSpec): Promise<EngineResult> {
  const cfg = loadConfig(s.dir);
  const prompt = randomIds(s.prompt, cfg.vocabSize, 7);
  const t0 = now();
  let prefillBest = Infinity;
  const decodeMs: number[] = [];
  let rssAfterLoad = 0;
  let loadS = 0;
  let prefillOps: OpTimes | undefined;
  let prefillMs: number | undefined;
  if (s.engine === 'dsv32') {
    ensureWasmBuilt();
    const backend = await WasmBackend.create({ weights: s.weights, threads: s.threads, nativeGemm: s.blas ? 'auto' : 'off' });
    if (s.blas && !backend.name.endsWith('+blas')) throw new Error('the native GEMM did not load (npm run setup:native)');
    const model = DeepSeekModel.load(s.dir, { backend, mtp: false });
    loadS = (now() - t0) / 1000;
    rssAfterLoad = process.memoryUsage().rss / 2 ** 20;
    let cache = model.newCache();
    let last = 0;
    const prof = profileBackend(backend);
    for (let r = 0; r < s.reps; r++) {
      cache = model.newCache();
      prof.reset();
      const a = now();
      const res = model.forward(prompt, 0, cache, { logits: 'last' });
      last = argmax(res.logits);
      prefillMs = now() - a;
      prefillBest = Math.min(prefillBest, prefillMs);
    }
    prefillOps = { ...prof.ops };
    let tok = last;
    for (let i = 0; i <= s.steps; i++) {
      const a = now();
      const res = model.forward([tok], s.prompt + i, cache);
      tok = argmax(res.logits);
      if (i > 0) decodeMs.push(now() - a); // step 0 builds the absorbed kv_b weights once
    }
    await backend.close();
  } else {
    const ll = await LlamaCppRunner.open(s.gguf!, { threads: s.threads, contextSize: s.prompt + s.steps + 64, flashAttention: s.flash ?? false });
    loadS = (now() - t0) / 1000;
    rssAfterLoad = process.memoryUsage().rss / 2 ** 20;
    for (let r = 0; r < s.reps; r++) {
      await ll.reset();
      const a = now();
      await ll.prefill(prompt);
      prefillBest = Math.min(prefillBest, now() - a);
    }
    let tok = prompt[prompt.length - 1]!;
    for (let i = 0; i <= s.steps; i++) {
      const a = now();
      tok = await ll.decode(tok);
      if (i > 0) decodeMs.push(now() - a);
    }
    await ll.close();
  }
  const med = median(decodeMs);
  return {
    label: s.label, engine: s.engine, weights: s.weights, threads: s.threads, loadS, prefillTokS: s.prompt / (prefillBest / 1000), decodeMsPerToken: med, decodeTokS: 1000 / med,
    decodeBestMs: Math.min(...decodeMs), context: s.prompt, rssAfterLoadMiB: rssAfterLoad, peakRssMiB: peakRssMiB(), prefillOps, prefillMs,
  };
}

// ---- child: dense vs DSA at long contexts ----------------------------------------------------------------

interface LongSpec {
  kind: 'long';
  dsaDir: string;
  denseDir: string;
  weights: 'native' | 'q8';
  contexts: number[];
  /** positions prefilled for real before the cache is tiled up to each context */
  fillReal: number;
  steps: number;
  threads: number;
}

interface OpTimes { [op: string]: number }

export interface LongPoint {
  ctx: number;
  chunk: number;
  dsa: { decodeMs: number; decodeBestMs: number; prefillMsPerToken: number; decodeOps: OpTimes };
  dense: { decodeMs: number; decodeBestMs: number; prefillMsPerToken: number; decodeOps: OpTimes };
}

/** Wraps the backend's kernels to add up the time spent in each (per instance; the model is not touched). */
function profileBackend(be: Backend): { ops: OpTimes; reset(): void } {
  const ops: OpTimes = {};
  const target = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['matmul', 'matmulList', 'matmulGrouped', 'indexerScores', 'topk', 'latentAttention', 'mhaAttention', 'rmsNorm', 'layerNorm']) {
    const f = target[name]!.bind(be);
    target[name] = (...a: unknown[]) => {
      const t = now();
      try { return f(...a); } finally {
        const dt = now() - t;
        ops[name] = (ops[name] ?? 0) + dt;
        ops[`${name} calls`] = (ops[`${name} calls`] ?? 0) + 1;
        if (name === 'matmul' && /\.experts\.\d/.test((a[2] as { name?: string }).name ?? '')) ops['matmul routed experts'] = (ops['matmul routed experts'] ?? 0) + dt;
      }
    };
  }
  return { ops, reset: () => { for (const k of Object.keys(ops)) delete ops[k]; } };
}

/**
 * Fills `cache` to `ctx` positions: the first `real` by a chunked prefill of random tokens, the rest by
 * repeating those rows (prefilling 64K positions for real takes hours on two cores; attention cost does not
 * depend on what the rows hold, and DSA still selects among ctx distinct-position keys).
 */
function fillCache(model: DeepSeekModel, cache: ModelCache, ctx: number, real: number, reserve: number): void {
  const n = Math.min(real, ctx);
  if (cache.length < n) {
    const ids = randomIds(n, model.cfg.vocabSize, 3);
    for (let p = cache.length; p < n; p += 256) model.forward(ids.slice(p, Math.min(n, p + 256)), p, cache, { logits: 'none' });
  }
  for (const lc of cache.layers) {
    lc.ensure(ctx + reserve);
    const tile = <T extends Uint8Array | Float32Array>(a: T, per: number) => {
      for (let b = n; b < ctx; b += n) a.copyWithin(b * per, 0, Math.min(n, ctx - b) * per);
    };
    tile(lc.latentCodes, lc.rank);
    tile(lc.latentScales, lc.rank / 128);
    tile(lc.pe, lc.ropeDim);
    tile(lc.indexCodes, lc.indexDim);
    tile(lc.indexScales, 1);
  }
  cache.length = ctx;
}

export async function runLong(s: LongSpec): Promise<{ points: LongPoint[]; peakRssMiB: number; fillReal: number }> {
  ensureWasmBuilt();
  const be = await WasmBackend.create({ weights: s.weights, threads: s.threads, nativeGemm: 'off' }); // the attention comparison, wasm only
  const beDense = await WasmBackend.create({ weights: s.weights, threads: s.threads });
  const dsa = DeepSeekModel.load(s.dsaDir, { backend: be, mtp: false });
  const dense = DeepSeekModel.load(s.denseDir, { backend: beDense, mtp: false });
  const prof = { dsa: profileBackend(be), dense: profileBackend(beDense) };
  const cache = dsa.newCache();
  const points: LongPoint[] = [];
  const maxCtx = Math.max(...s.contexts);
  for (const ctx of [...s.contexts].sort((a, b) => a - b)) {
    // prefill chunks shrink with the context so dense stays within a few seconds per measurement
    const chunk = ctx <= 4096 ? 64 : ctx <= 16384 ? 32 : 16;
    fillCache(dsa, cache, ctx, s.fillReal, maxCtx - ctx + 64);
    if (!points.length) {
      // warm up once: the JIT and both worker threads, before anything is timed
      for (let i = 0; i < 6; i++) { dsa.forward([5], ctx, cache); dense.forward([5], ctx, cache); }
    }
    const steps = ctx > 16384 ? s.steps : s.steps + 2;
    const chunkIds = randomIds(chunk, dsa.cfg.vocabSize, ctx);
    // decode steps alternate between the two models (same position, same cache), so a noisy stretch hits both
    const models = { dsa, dense };
    const ms = { dsa: [] as number[], dense: [] as number[] };
    const tok = { dsa: chunkIds[0]!, dense: chunkIds[0]! };
    for (let i = 0; i < steps + 2; i++) {
      for (const w of ['dsa', 'dense'] as const) {
        if (i === 2) prof[w].reset(); // two warm-up steps (the first builds the absorbed weights)
        const a = now();
        const r = models[w].forward([tok[w]], ctx, cache); // cuts the cache back to ctx first: every step at the same position
        tok[w] = argmax(r.logits);
        if (i >= 2) ms[w].push(now() - a);
      }
    }
    const decodeOps = { dsa: {} as OpTimes, dense: {} as OpTimes };
    for (const w of ['dsa', 'dense'] as const) for (const [k, v] of Object.entries(prof[w].ops)) decodeOps[w][k] = v / steps;
    const prefill = { dsa: Infinity, dense: Infinity };
    for (let r = 0; r < 2; r++) {
      for (const w of ['dsa', 'dense'] as const) {
        if (r > 0 && prefill[w] > 3000) continue; // one long measurement is steady enough
        const a = now();
        models[w].forward(chunkIds, ctx, cache, { logits: 'last' });
        prefill[w] = Math.min(prefill[w], now() - a);
      }
    }
    const result = (w: 'dsa' | 'dense') => ({ decodeMs: median(ms[w]), decodeBestMs: Math.min(...ms[w]), prefillMsPerToken: prefill[w] / chunk, decodeOps: decodeOps[w] });
    const d = result('dsa');
    const n = result('dense');
    points.push({ ctx, chunk, dsa: d, dense: n });
    process.stderr.write(`  ctx ${ctx}: decode DSA ${d.decodeMs.toFixed(1)} ms, dense ${n.decodeMs.toFixed(1)} ms; prefill DSA ${d.prefillMsPerToken.toFixed(1)} ms/token, dense ${n.prefillMsPerToken.toFixed(1)} ms/token\n`);
    cache.truncate(ctx);
  }
  await be.close();
  await beDense.close();
  return { points, peakRssMiB: peakRssMiB(), fillReal: s.fillReal };
}

// ---- parent: children, machine, orchestration -----------------------------------------------------------

function runChild<T>(spec: EngineSpec | LongSpec): Promise<T> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) rej(new Error(`child ${spec.kind} exited ${code}${out ? `: ${out.slice(-500)}` : ''}`));
      else res(JSON.parse(line.slice(7)) as T);
    });
  });
}

export function machine(): { cpu: string; cores: number; node: string; llamaCpp: string } {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? cpu;
    const flags = /flags\s*:\s*(.+)/.exec(info)?.[1] ?? '';
    const simd = ['avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.split(' ').includes(f));
    if (simd.length) cpu += ` (${simd.join(', ')})`;
  } catch { /* not Linux */ }
  let llamaCpp = 'not installed';
  if (llamaCppInstalled()) {
    const modules = join(benchDir, 'llamacpp', 'node_modules');
    const pkg = JSON.parse(readFileSync(join(modules, 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string };
    const rel = JSON.parse(readFileSync(join(modules, 'node-llama-cpp', 'llama', 'binariesGithubRelease.json'), 'utf8')) as { release: string };
    // bench/llamacpp/setup.mjs moves it there on AMX CPUs
    const amxAside = existsSync(join(modules, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64', 'amx-disabled', 'libggml-cpu-sapphirerapids.so'));
    llamaCpp = `node-llama-cpp ${pkg.version} (bundled llama.cpp release "${rel.release}", prebuilt CPU binaries` +
      (amxAside ? '; its AMX variant set aside by bench:setup because it aborts on the MLA graph with Q8_0 weights, so ggml runs its best AVX-512 VNNI/BF16 variant)' : ')');
  }
  return { cpu, cores: cpus().length, node: process.version, llamaCpp };
}

const load1 = () => loadavg()[0]!.toFixed(2);

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const started = Date.now();
  const loads: string[] = [load1()];
  const m = machine();
  const hasLlama = llamaCppInstalled();
  log(`dsv32 end-to-end bench${a.quick ? ' (quick)' : ''}: ${m.cpu}, ${m.cores} cores, Node ${m.node}, load ${loads[0]}`);
  if (!hasLlama) log('node-llama-cpp is not installed (npm run bench:setup): llama.cpp columns are skipped');

  // models: the V3.2-shaped checkpoint, its dense twin (index_topk past any context) and the GGUF exports
  const raw = benchConfig(a.quick);
  const dsaDir = syntheticModel(a.quick ? 'bench-quick' : 'bench', raw, 'BF16', 1, log);
  const denseDir = configVariant(dsaDir, a.quick ? 'bench-quick-dense' : 'bench-dense', (r) => { r.index_topk = 1 << 20; });
  const cfg = loadConfig(dsaDir);
  const ggufs = hasLlama ? { bf16: ggufOf(dsaDir, 'bf16', log), q8_0: ggufOf(dsaDir, 'q8_0', log) } : null;

  let parity: ParityRow[] = [];
  if (hasLlama && !a.skipParity) {
    log('parity: llama.cpp vs dsv32 logits on the same weights');
    parity = await runParity(a.threads, log, a.quick);
    writeFileSync(join(benchOut, 'parity.json'), JSON.stringify(parity, null, 2));
  }

  // the roofline's ceiling: best of a measurement before and one after the engines (a busy neighbour only lowers it)
  const bandwidth = async () => {
    log('read bandwidth (1 GiB, wasm SIMD, 1 and 4 streams per thread, the faster)');
    const b = await measureReadBandwidth([1, a.threads], 1 << 30, 8);
    log(`  ${Object.entries(b.gbPerS).map(([t, v]) => `${t} thread(s): ${f1(v)} GB/s`).join(', ')}`);
    return b;
  };
  const bw = await bandwidth();
  loads.push(load1());

  // engines side by side, rounds interleaved so a noisy stretch hits all of them; best round kept. The
  // 1-thread pairs are the steadier comparison on a shared machine (a descheduled helper thread stalls both
  // engines' 2-thread barriers).
  const threadCounts = [...new Set([a.threads, 1])];
  const specs: EngineSpec[] = [];
  for (const th of threadCounts) {
    for (const w of ['q8', 'native'] as const) {
      if (a.quick && th !== a.threads && w === 'native') continue;
      const base = { kind: 'engine' as const, weights: w, dir: dsaDir, prompt: a.prompt, steps: a.steps, threads: th, reps: 2 };
      specs.push({ ...base, label: engineLabel('dsv32', w, th), engine: 'dsv32' });
      if (ggufs) specs.push({ ...base, label: engineLabel('llamacpp', w, th), engine: 'llamacpp', gguf: w === 'q8' ? ggufs.q8_0 : ggufs.bf16, flash: true });
      // the optional native GEMM (npm run setup:native) changes prefill only; measured beside the wasm-only rows
      if (th === a.threads && nativeGemm()) specs.push({ ...base, label: engineLabel('dsv32', w, th, true), engine: 'dsv32', blas: true });
    }
  }
  const best = new Map<string, EngineResult>();
  for (let r = 0; r < a.rounds; r++) {
    for (const s of specs) {
      log(`round ${r + 1}/${a.rounds}: ${s.label}`);
      const res = await runChild<EngineResult>(s);
      log(`  load ${f1(res.loadS)} s, prefill ${f1(res.prefillTokS)} tok/s, decode ${f1(res.decodeTokS)} tok/s (${f1(res.decodeMsPerToken)} ms), peak RSS ${mib(res.peakRssMiB)}`);
      const prev = best.get(s.label);
      best.set(s.label, prev ? {
        ...res,
        prefillTokS: Math.max(prev.prefillTokS, res.prefillTokS),
        decodeMsPerToken: Math.min(prev.decodeMsPerToken, res.decodeMsPerToken),
        decodeTokS: Math.max(prev.decodeTokS, res.decodeTokS),
        decodeBestMs: Math.min(prev.decodeBestMs, res.decodeBestMs),
        peakRssMiB: Math.max(prev.peakRssMiB, res.peakRssMiB),
      } : res);
      loads.push(load1());
    }
  }

  const bw2 = await bandwidth();
  for (const [t, v] of Object.entries(bw2.gbPerS)) bw.gbPerS[Number(t)] = Math.max(bw.gbPerS[Number(t)] ?? 0, v);

  let long: Awaited<ReturnType<typeof runLong>> | null = null;
  if (!a.skipLong) {
    log(`long context, dsv32 q8, dense vs DSA at ${a.contexts.join(', ')}`);
    long = await runChild(({ kind: 'long', dsaDir, denseDir, weights: 'q8', contexts: a.contexts, fillReal: a.quick ? 256 : 1024, steps: a.quick ? 2 : 3, threads: a.threads }));
    loads.push(load1());
  }

  // the default model, when its trainer has put it in place
  const tinyDir = join(repoRoot, 'models', 'dsv32-tiny');
  const tiny: EngineResult[] = [];
  let tokParity: TokenizerParity | null = null;
  if (existsSync(join(tinyDir, 'config.json'))) {
    const tg = hasLlama ? ggufOf(tinyDir, 'bf16', log) : null;
    const tq = hasLlama ? ggufOf(tinyDir, 'q8_0', log) : null;
    const tcfg = loadConfig(tinyDir);
    const P = Math.min(a.prompt, tcfg.maxPositions - a.steps - 2);
    const t: EngineSpec[] = [];
    for (const w of ['q8', 'native'] as const) {
      const base = { kind: 'engine' as const, weights: w, dir: tinyDir, prompt: P, steps: a.steps, threads: a.threads, reps: 2 };
      t.push({ ...base, label: engineLabel('dsv32', w, a.threads), engine: 'dsv32' });
      if (tq && tg) t.push({ ...base, label: engineLabel('llamacpp', w, a.threads), engine: 'llamacpp', gguf: w === 'q8' ? tq : tg, flash: true });
    }
    for (const s of t) { log(`default model: ${s.label}`); tiny.push(await runChild<EngineResult>(s)); }
    if (tg && existsSync(join(tinyDir, 'tokenizer.json'))) tokParity = await tokenizerParity(tinyDir, tg);
  } else {
    log(`default model not found at ${tinyDir}: skipped`);
  }
  loads.push(load1());

  writeReports({ a, m, cfg, bw, best, ggufs, long, tiny, tinyPresent: tiny.length > 0, parity, tokParity, loads, seconds: (Date.now() - started) / 1000 });
  log(`done in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

// ---- entry ----------------------------------------------------------------------------------------------------

const childArg = process.argv.indexOf('--child');
if (childArg >= 0) {
  const spec = JSON.parse(process.argv[childArg + 1]!) as EngineSpec | LongSpec;
  const res = spec.kind === 'engine' ? await runEngine(spec) : await runLong(spec);
  process.stdout.write(`RESULT ${JSON.stringify(res)}\n`);
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
