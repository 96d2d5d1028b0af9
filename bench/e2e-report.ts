// The end-to-end benchmark's reports (bench/run.ts measures): bytes each decode token reads (the roofline),
// bench/RESULTS.md's "## End to end" section with its targets table and what-limits-it notes, bench/e2e.svg
// and bench/results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSvg } from '../src/cli/plot.js';
import { type GgmlType, ggmlTensorBytes, readGgufHeader } from '../src/formats/gguf.js';
import { isMoeLayer, type ModelConfig } from '../src/model/config.js';
import { countParams } from '../src/model/manifest.js';
import { flopsPerToken } from '../src/model/plan.js';
import { type ParityRow, parityMarkdown, type TokenizerParity } from './llamacpp-parity.js';
import type { measureReadBandwidth } from './llamacpp/bandwidth.js';
import type { Args, EngineResult, LongPoint, machine, runLong } from './run.js';

const benchDir = dirname(fileURLToPath(import.meta.url));

export const f1 = (x: number) => x.toFixed(1);
export const f2 = (x: number) => x.toFixed(2);
export const mib = (x: number) => `${Math.round(x)} MiB`;
export const gb = (x: number) => `${(x / 1e9).toFixed(3)} GB`;

export function engineLabel(engine: 'dsv32' | 'llamacpp', w: 'native' | 'q8', threads: number, blas = false): string {
  const name = engine === 'dsv32' ? (w === 'q8' ? 'dsv32 q8' : 'dsv32 native (bf16)') : (w === 'q8' ? 'llama.cpp Q8_0' : 'llama.cpp BF16');
  return `${name}, ${threads}t${blas ? ' + BLAS prefill' : ''}`;
}

// ---- parent: bytes per decode token --------------------------------------------------------------------

/** Bytes a [N,K] weight occupies as dsv32 holds it: q8 = int8 rows padded to 32 + an fp32 scale per 32. */
function dsvLinear(N: number, K: number, fmt: 'bf16' | 'f32' | 'q8'): number {
  if (fmt === 'q8') { const Kp = Math.ceil(K / 32) * 32; return N * Kp + N * (Kp / 32) * 4; }
  return N * K * (fmt === 'bf16' ? 2 : 4);
}

/**
 * What one dsv32 decode token reads at position T: every weight it multiplies (the k routed experts chosen of
 * each MoE layer, one embedding row, the indexer's query side only once it selects; native = the checkpoint's bf16, plus the absorbed per-head W_UK/W_UV it
 * stacks from kv_b_proj, BF16 for a BF16 checkpoint as here) and the cache rows attention and the indexer read (FP8 latent + scales + fp32 RoPE key,
 * FP8 indexer key + scale; no indexer scoring while T ≤ index_topk).
 */
export function dsv32DecodeBytes(cfg: ModelConfig, T: number, weights: 'native' | 'q8', dense: boolean): { weights: number; cache: number } {
  const f = weights === 'q8' ? 'q8' : 'bf16';
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const dqk = cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
  const rank = cfg.kvLoraRank;
  let w = D * 2 + dsvLinear(cfg.vocabSize, D, f);
  let c = 0;
  for (let l = 0; l < cfg.numLayers; l++) {
    w += cfg.qLoraRank !== null ? dsvLinear(cfg.qLoraRank, D, f) + dsvLinear(H * dqk, cfg.qLoraRank, f) : dsvLinear(H * dqk, D, f);
    w += dsvLinear(rank + cfg.qkRopeHeadDim, D, f) + dsvLinear(D, H * cfg.vHeadDim, f);
    w += dsvLinear(H * rank, cfg.qkNopeHeadDim, f) + dsvLinear(H * cfg.vHeadDim, rank, f);
    const ic = cfg.indexer;
    const scored = ic && !dense && T > ic.topk;
    // the indexer's wk and wq_b stay as stored (bf16 here) under q8 too (selection is precision-sensitive),
    // weights_proj is fp32; the query side (wq_b, weights_proj) only runs once there is something to select
    if (ic) w += dsvLinear(ic.headDim, D, 'bf16') + (scored ? dsvLinear(ic.nHeads * ic.headDim, cfg.qLoraRank!, 'bf16') + dsvLinear(ic.nHeads, D, 'f32') : 0);
    if (isMoeLayer(cfg, l)) {
      const I = cfg.moeIntermediateSize;
      w += dsvLinear(cfg.nRoutedExperts, D, f) + (cfg.expertsPerToken + cfg.nSharedExperts) * (2 * dsvLinear(I, D, f) + dsvLinear(D, I, f));
    } else {
      w += 2 * dsvLinear(cfg.intermediateSize, D, f) + dsvLinear(D, cfg.intermediateSize, f);
    }
    const row = rank + (rank / 128) * 4 + cfg.qkRopeHeadDim * 4;
    c += scored ? T * (ic.headDim + 4) + ic.topk * row : T * row;
  }
  return { weights: w, cache: c };
}

/** The same for llama.cpp from its GGUF: tensor bytes (k of n experts, one embedding row) + its F16 KV rows. */
export function llamaDecodeBytes(gguf: string, cfg: ModelConfig, T: number): { weights: number; cache: number } {
  const h = readGgufHeader(gguf);
  let w = 0;
  for (const t of h.tensors) {
    const b = ggmlTensorBytes(t.type as GgmlType, t.ne);
    if (t.name === 'token_embd.weight') w += b / t.ne[1]!;
    else if (t.name.includes('_exps.')) w += (b * cfg.expertsPerToken) / cfg.nRoutedExperts;
    else w += b;
  }
  // K-only MLA cache (latent + RoPE key, F16); deepseek32 also reads its F16 indexer keys at every step
  const ic = cfg.indexer;
  const c = cfg.numLayers * (Math.min(T, ic ? ic.topk : T) * (cfg.kvLoraRank + cfg.qkRopeHeadDim) * 2 + (ic ? T * ic.headDim * 2 : 0));
  return { weights: w, cache: c };
}

// ---- parent: reports ----------------------------------------------------------------------------------------

interface Target { target: string; measured: string; met: boolean | null; metNote?: string }

export interface Report {
  a: Args;
  m: ReturnType<typeof machine>;
  cfg: ModelConfig;
  bw: Awaited<ReturnType<typeof measureReadBandwidth>>;
  best: Map<string, EngineResult>;
  ggufs: { bf16: string; q8_0: string } | null;
  long: Awaited<ReturnType<typeof runLong>> | null;
  tiny: EngineResult[];
  tinyPresent: boolean;
  parity: ParityRow[];
  tokParity: TokenizerParity | null;
  loads: string[];
  seconds: number;
}

export function writeReports(r: Report): void {
  const { a, cfg, bw } = r;
  const ctx = a.prompt;
  const roofOf = (res: EngineResult) => {
    const b = res.engine === 'dsv32'
      ? dsv32DecodeBytes(cfg, ctx, res.weights, false)
      : llamaDecodeBytes(res.weights === 'q8' ? r.ggufs!.q8_0 : r.ggufs!.bf16, cfg, ctx);
    const bytes = b.weights + b.cache;
    return { bytes, fraction: bytes / (bw.gbPerS[res.threads]! * 1e9) / (res.decodeMsPerToken / 1000) };
  };
  const rows = [...r.best.entries()];
  const get = (e: 'dsv32' | 'llamacpp', w: 'native' | 'q8', th = a.threads) => r.best.get(engineLabel(e, w, th));
  const q = get('dsv32', 'q8');
  const lq = get('llamacpp', 'q8');
  const n = get('dsv32', 'native');
  const lb = get('llamacpp', 'native');
  const q1 = get('dsv32', 'q8', 1);
  const lq1 = get('llamacpp', 'q8', 1);
  const n1 = get('dsv32', 'native', 1);
  const lb1 = get('llamacpp', 'native', 1);
  const ratio = (x: number | undefined, y: number | undefined) => (x && y ? x / y : null);
  const roofQ = q ? roofOf(q) : null;
  const p = countParams(cfg);

  // plot: ms/token against context, dense vs DSA, decode and prefill
  let svg = false;
  if (r.long) {
    const pts = r.long.points;
    const xs = pts.map((x) => Math.log2(x.ctx));
    const fmtCtx = (v: number) => { const c = 2 ** v; return c >= 1024 ? `${Math.round(c / 1024)}K` : `${Math.round(c)}`; };
    const panel = (title: string, pick: (x: LongPoint, w: 'dsa' | 'dense') => number) => ({
      title, xLabel: 'context (tokens, log scale)', yLabel: 'ms per token', yScale: 'log' as const,
      xTicks: xs, xFormat: fmtCtx,
      series: [
        { name: 'dense (index_topk ≥ context)', points: pts.map((x, i) => [xs[i]!, pick(x, 'dense')] as const) },
        { name: 'DSA (top-2048)', points: pts.map((x, i) => [xs[i]!, pick(x, 'dsa')] as const) },
      ],
    });
    writeFileSync(join(benchDir, 'e2e.svg'), renderSvg({
      title: `dsv32 q8, ${a.threads} threads: ms per token vs context (V3.2-shaped synthetic model)`,
      panels: [panel('decode (one token at the context)', (x, w) => x[w].decodeMs), panel('prefill (a chunk at the context)', (x, w) => x[w].prefillMsPerToken)],
    }));
    svg = true;
  }

  const at64 = r.long?.points.find((x) => x.ctx === 65536) ?? null;
  const both = (x: number | null, y: number | null) => (x === null || y === null ? null : Math.min(x, y));
  const dRatio = both(ratio(q?.decodeTokS, lq?.decodeTokS), ratio(n?.decodeTokS, lb?.decodeTokS));
  const pRatio = both(ratio(q?.prefillTokS, lq?.prefillTokS), ratio(n?.prefillTokS, lb?.prefillTokS));
  const x2 = (v: number | null) => (v === null ? '—' : `${f2(v)}×`);
  const { qB, nB } = blasRows(r);
  const pRatioB = both(ratio(qB?.prefillTokS, lq?.prefillTokS), ratio(nB?.prefillTokS, lb?.prefillTokS));
  const blasP = qB || nB ? `; with the optional native GEMM (OpenBLAS, npm run setup:native): q8 ${x2(ratio(qB?.prefillTokS, lq?.prefillTokS))}, bf16 ${x2(ratio(nB?.prefillTokS, lb?.prefillTokS))}` : '';
  const one = a.threads !== 1 && q1 ? ` (1 thread: q8 ${x2(ratio(q1?.decodeTokS, lq1?.decodeTokS))}, bf16 ${x2(ratio(n1?.decodeTokS, lb1?.decodeTokS))})` : '';
  const oneP = a.threads !== 1 && q1 ? ` (1 thread: q8 ${x2(ratio(q1?.prefillTokS, lq1?.prefillTokS))}, bf16 ${x2(ratio(n1?.prefillTokS, lb1?.prefillTokS))})` : '';
  const roofN = n ? roofOf(n) : null;
  const targets: Target[] = [
    { target: `decode ≥ 1.0× llama.cpp, same weights and precision, ${a.threads} threads`, measured: `q8/Q8_0 ${x2(ratio(q?.decodeTokS, lq?.decodeTokS))}, bf16/BF16 ${x2(ratio(n?.decodeTokS, lb?.decodeTokS))}${one}`, met: dRatio === null ? null : dRatio >= 1 },
    { target: 'decode ≥ 80 % of the bandwidth roofline', measured: roofQ ? `dsv32 q8 ${Math.round(100 * roofQ.fraction)} %, native ${roofN ? Math.round(100 * roofN.fraction) : '—'} % (median step, ${a.threads} threads)` : '—', met: roofQ ? Math.min(roofQ.fraction, roofN?.fraction ?? 1) >= 0.8 : null },
    { target: 'prefill ≥ 0.5× llama.cpp', measured: `wasm kernels: q8/Q8_0 ${x2(ratio(q?.prefillTokS, lq?.prefillTokS))}, bf16/BF16 ${x2(ratio(n?.prefillTokS, lb?.prefillTokS))}${oneP}${blasP}`,
      met: pRatio === null ? null : pRatio >= 0.5, metNote: pRatio !== null && pRatio < 0.5 && pRatioB !== null && pRatioB >= 0.5 ? 'met with the native GEMM; missed by wasm alone' : undefined },
    { target: '64K context: DSA decode ≥ 5× faster than dense', measured: at64 ? x2(at64.dense.decodeMs / at64.dsa.decodeMs) : '—', met: at64 ? at64.dense.decodeMs / at64.dsa.decodeMs >= 5 : null },
    { target: '64K context: DSA prefill ≥ 2.5× faster than dense', measured: at64 ? x2(at64.dense.prefillMsPerToken / at64.dsa.prefillMsPerToken) : '—', met: at64 ? at64.dense.prefillMsPerToken / at64.dsa.prefillMsPerToken >= 2.5 : null },
  ];
  const json = {
    targets,
    decode: { dsv32_tok_s: q?.decodeTokS ?? null, llamacpp_tok_s: lq?.decodeTokS ?? null, ratio: ratio(q?.decodeTokS, lq?.decodeTokS), weights: 'dsv32 q8 (int8 per 32, fp32 scales) vs llama.cpp Q8_0', threads: a.threads, context: ctx,
      bf16: { dsv32_tok_s: n?.decodeTokS ?? null, llamacpp_tok_s: lb?.decodeTokS ?? null, ratio: ratio(n?.decodeTokS, lb?.decodeTokS) },
      one_thread: { q8: { dsv32_tok_s: q1?.decodeTokS ?? null, llamacpp_tok_s: lq1?.decodeTokS ?? null }, bf16: { dsv32_tok_s: n1?.decodeTokS ?? null, llamacpp_tok_s: lb1?.decodeTokS ?? null } } },
    prefill: { dsv32_tok_s: q?.prefillTokS ?? null, llamacpp_tok_s: lq?.prefillTokS ?? null, ratio: ratio(q?.prefillTokS, lq?.prefillTokS), threads: a.threads, prompt_tokens: ctx,
      bf16: { dsv32_tok_s: n?.prefillTokS ?? null, llamacpp_tok_s: lb?.prefillTokS ?? null, ratio: ratio(n?.prefillTokS, lb?.prefillTokS) },
      one_thread: { q8: { dsv32_tok_s: q1?.prefillTokS ?? null, llamacpp_tok_s: lq1?.prefillTokS ?? null }, bf16: { dsv32_tok_s: n1?.prefillTokS ?? null, llamacpp_tok_s: lb1?.prefillTokS ?? null } },
      native_gemm: qB || nB ? { q8: { dsv32_tok_s: qB?.prefillTokS ?? null, ratio: ratio(qB?.prefillTokS, lq?.prefillTokS) }, bf16: { dsv32_tok_s: nB?.prefillTokS ?? null, ratio: ratio(nB?.prefillTokS, lb?.prefillTokS) } } : null },
    long_context: (r.long?.points ?? []).map((x) => ({
      ctx: x.ctx, dense_ms_per_token: x.dense.decodeMs, dsa_ms_per_token: x.dsa.decodeMs,
      dense_prefill_ms_per_token: x.dense.prefillMsPerToken, dsa_prefill_ms_per_token: x.dsa.prefillMsPerToken, prefill_chunk: x.chunk,
      decode_speedup: x.dense.decodeMs / x.dsa.decodeMs, prefill_speedup: x.dense.prefillMsPerToken / x.dsa.prefillMsPerToken,
    })),
    roofline_fraction: roofQ?.fraction ?? null,
    roofline: {
      read_bandwidth_gb_s: bw.gbPerS, decode_bytes_per_token: roofQ?.bytes ?? null,
      engines: Object.fromEntries(rows.map(([l, res]) => { const x = r.ggufs || res.engine === 'dsv32' ? roofOf(res) : null; return [l, x && { bytes_per_token: x.bytes, fraction: x.fraction }]; })),
    },
    peak_rss_mib: Object.fromEntries(rows.map(([l, res]) => [l, res.peakRssMiB])),
    long_context_peak_rss_mib: r.long?.peakRssMiB ?? null,
    engines: Object.fromEntries(rows),
    default_model: r.tinyPresent ? r.tiny : 'models/dsv32-tiny absent when the bench ran',
    parity: r.parity,
    tokenizer_parity: r.tokParity,
    model: { config: cfg.raw, params_total: p.total, params_activated: p.activated },
    machine: { ...r.m, load_average: r.loads, threads: a.threads },
    command: `npm run bench${a.quick ? ' -- --quick' : ''}`,
    seconds: r.seconds,
  };
  writeFileSync(join(benchDir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(benchDir, 'RESULTS.md'), spliceSection(readFileSync(join(benchDir, 'RESULTS.md'), 'utf8'), markdown(r, json, svg, roofOf)));
}

function markdown(r: Report, json: Record<string, unknown> & { long_context: { ctx: number; dense_ms_per_token: number; dsa_ms_per_token: number; dense_prefill_ms_per_token: number; dsa_prefill_ms_per_token: number; prefill_chunk: number; decode_speedup: number; prefill_speedup: number }[] },
  svg: boolean, roofOf: (res: EngineResult) => { bytes: number; fraction: number }): string {
  const { a, cfg, bw, m } = r;
  const p = countParams(cfg);
  const L: string[] = [];
  L.push('## End to end', '');
  L.push(`Command: \`npm run bench${a.quick ? ' -- --quick' : ''}\` (\`bench/run.ts\`; \`npm run bench:setup\` once installs llama.cpp into bench/llamacpp/). ` +
    `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.llamaCpp}. Load average during the run: ${r.loads.join(' → ')} ` +
    '(other jobs share the two cores: expect ±20–30 %, and worse for 2-thread runs, whose barriers stall whenever one thread is descheduled). ' +
    `Each pair runs with the same thread count (${[...new Set([a.threads, 1])].join(' and ')}); each engine runs in its own process (peak RSS is its own); ${a.rounds} interleaved round(s), best kept. ` +
    `llama.cpp: flash attention on (llama.cpp's own default on CPU), F16 KV cache (its default), GGUF memory-mapped. Whole run: ${(r.seconds / 60).toFixed(1)} min.`, '');
  L.push(`Model: a random V3.2-shaped checkpoint (\`benchConfig\` in bench/run.ts): ${cfg.numLayers} layers (${cfg.firstKDense} dense, ${cfg.numLayers - cfg.firstKDense} MoE with ` +
    `${cfg.nRoutedExperts} routed experts, ${cfg.expertsPerToken} active, ${cfg.nSharedExperts} shared, groups ${cfg.nGroup}/${cfg.topkGroup}), hidden ${cfg.hiddenSize}, ${cfg.numHeads} heads, ` +
    `MLA latent ${cfg.kvLoraRank} + RoPE ${cfg.qkRopeHeadDim}, indexer ${cfg.indexer?.nHeads}×${cfg.indexer?.headDim} top-${cfg.indexer?.topk}, vocabulary ${cfg.vocabSize}; ` +
    `${(p.total / 1e9).toFixed(2)}B parameters, ${(p.activated / 1e9).toFixed(2)}B activated per token; stored BF16. llama.cpp runs \`dsv32 export-gguf\` ` +
    'of this checkpoint (architecture `deepseek32`, i.e. with its lightning indexer) in BF16 and Q8_0; dsv32 runs the safetensors with `--weights native` (bf16 as stored) and `--weights q8` ' +
    '(int8 per 32 with fp32 scales, repacked at load). Same weights, same precision class per pair.', '');

  const t = json.targets as Target[];
  if (t.length) {
    L.push('### Targets (issue 4), ratios from this run', '');
    L.push('| target | measured | |', '|---|---|---|');
    for (const x of t) L.push(`| ${x.target} | ${x.measured} | ${x.met === null ? 'not measured' : x.met ? 'met' : x.metNote ?? '**missed**'} |`);
    L.push('');
  }

  L.push('### Decode and prefill, dsv32 vs llama.cpp', '');
  L.push(`Prefill: a ${a.prompt}-token prompt from position 0 (best of 2), logits for the last token. Decode: ${a.steps} greedy tokens after it (median ms, lm_head and argmax/sampling included), context ≈ ${a.prompt}.`, '');
  L.push('| engine | weights | prefill tok/s | decode tok/s | decode ms/token (best) | bytes read per decode token | roofline fraction (at best) | load s | peak RSS |', '|---|---|---|---|---|---|---|---|---|');
  for (const [l, res] of r.best) {
    const x = r.ggufs || res.engine === 'dsv32' ? roofOf(res) : null;
    const w = res.engine === 'llamacpp' ? (res.weights === 'q8' ? 'Q8_0 GGUF' : 'BF16 GGUF') : res.weights === 'q8' ? 'q8 (repacked)' : 'bf16 (as stored)';
    const atBest = x ? (x.fraction * res.decodeMsPerToken) / res.decodeBestMs : 0;
    L.push(`| ${l} | ${w} | ${f1(res.prefillTokS)} | ${f1(res.decodeTokS)} | ${f1(res.decodeMsPerToken)} (${f1(res.decodeBestMs)}) | ${x ? gb(x.bytes) : '—'} | ${x ? `${Math.round(100 * x.fraction)} % (${Math.round(100 * atBest)} %)` : '—'} | ${f1(res.loadS)} | ${mib(res.peakRssMiB)} |`);
  }
  const d = json.decode as { ratio: number | null; bf16: { ratio: number | null } };
  const pf = json.prefill as { ratio: number | null; bf16: { ratio: number | null } };
  L.push('');
  L.push(`Ratios dsv32 / llama.cpp at ${a.threads} threads — decode: q8 ${d.ratio ? f2(d.ratio) : '—'}×, bf16 ${d.bf16.ratio ? f2(d.bf16.ratio) : '—'}×; prefill: q8 ${pf.ratio ? f2(pf.ratio) : '—'}×, bf16 ${pf.bf16.ratio ? f2(pf.bf16.ratio) : '—'}×.`, '');
  L.push(`Roofline: read bandwidth measured in this run (bench/llamacpp/bandwidth.ts: SIMD loads over 1 GiB as one stream and as four streams per thread, the faster, best of 8 repetitions before and 8 after the engines) ` +
    `${Object.entries(bw.gbPerS).map(([t, v]) => `${f1(v)} GB/s on ${t} thread${t === '1' ? '' : 's'}`).join(', ')}. Bytes read per decode token = the weights the token multiplies ` +
    '(k of n experts, one embedding row, lm_head; dsv32 also reads the absorbed W_UK/W_UV of every head, stacked from kv_b_proj: BF16 in native mode) + the cache rows attention reads; ' +
    'roofline fraction = (bytes / the bandwidth at that thread count) / measured ms per token (median; in brackets at the fastest step). ' +
    'The byte count assumes every weight comes from DRAM; experts chosen by consecutive tokens are sometimes still in the last-level cache, so a fast step ' +
    'can read fewer bytes than counted (up to fractions above 100 %) — for both engines alike.', '');

  if (r.long) {
    L.push('### Long context: dense vs DSA (dsv32 q8)', '');
    L.push(`Dense = the same checkpoint with \`index_topk\` ≥ context (the indexer selects every key and skips scoring); DSA = top-${cfg.indexer?.topk}. ` +
      `The cache is filled by prefilling ${r.long.fillReal} random tokens for real and repeating those rows up to the context (a real 64K prefill takes hours on two cores; ` +
      'attention cost does not depend on the rows\' contents). Decode: median of a few steps at exactly that position. Prefill: ms per token of one chunk appended at that position ' +
      '(chunk size in the table), not of a whole prompt.', '');
    L.push('| context | decode dense ms | decode DSA ms | DSA speedup | prefill dense ms/token | prefill DSA ms/token | DSA speedup | chunk |', '|---|---|---|---|---|---|---|---|');
    for (const x of json.long_context) {
      L.push(`| ${x.ctx} | ${f1(x.dense_ms_per_token)} | ${f1(x.dsa_ms_per_token)} | ${f2(x.decode_speedup)}× | ${f1(x.dense_prefill_ms_per_token)} | ${f1(x.dsa_prefill_ms_per_token)} | ${f2(x.prefill_speedup)}× | ${x.prefill_chunk} |`);
    }
    L.push('');
    if (svg) L.push('![ms per token vs context, dense vs DSA](e2e.svg)', '');
    L.push('Where decode time goes (ms per token, backend calls timed in the bench process):', '');
    const ops = ['matmul', 'matmulList', 'matmulGrouped', 'indexerScores', 'topk', 'latentAttention', 'rmsNorm', 'layerNorm'];
    L.push(`| context | attention | ${ops.join(' | ')} | rest (JS: RoPE, Hadamard, FP8 quantisation, routing, copies) | total |`, `|---|---|${ops.map(() => '---|').join('')}---|---|`);
    for (const x of r.long.points) {
      for (const w of ['dense', 'dsa'] as const) {
        const o = x[w].decodeOps;
        const sum = ops.reduce((s, k) => s + (o[k] ?? 0), 0);
        L.push(`| ${x.ctx} | ${w} | ${ops.map((k) => f1(o[k] ?? 0)).join(' | ')} | ${f1(Math.max(0, x[w].decodeMs - sum))} | ${f1(x[w].decodeMs)} |`);
      }
    }
    const dops = r.long.points[0]?.dsa.decodeOps;
    const calls = dops?.['matmul calls'];
    if (calls) {
      L.push('', `A decode token makes ${Math.round(calls)} matmul calls, ${Math.round(dops?.['matmulList calls'] ?? 0)} list calls (each MoE layer's ` +
        `experts: every gate/up in one, every down in another) and ${Math.round(dops?.['matmulGrouped calls'] ?? 0)} grouped ones ` +
        '(all heads\' absorbed W_UK or W_UV products in one call per layer); each is one kernel dispatch to the worker thread.');
    }
    L.push('', `Peak RSS of the long-context process (both models loaded, cache reserved for the largest context): ${mib(r.long.peakRssMiB)}.`, '');
  }

  L.push(...limits(r, roofOf), '');

  L.push('### Default model (models/dsv32-tiny)', '');
  if (!r.tinyPresent) L.push('Not present when this run happened (it is being trained); rerun `npm run bench` once it is in place.', '');
  else {
    L.push('| engine | prefill tok/s | decode tok/s | peak RSS |', '|---|---|---|---|');
    for (const t of r.tiny) L.push(`| ${t.label} | ${f1(t.prefillTokS)} | ${f1(t.decodeTokS)} | ${mib(t.peakRssMiB)} |`);
    L.push('');
  }

  if (r.parity.length) {
    L.push('### Parity: llama.cpp runs the same weights', '');
    L.push('`node --import tsx bench/llamacpp-parity.ts` (also part of this run): GGUF from `dsv32 export-gguf`, llama.cpp on CPU with an F32 KV cache, the same prompt ids.', '');
    L.push(parityMarkdown(r.parity), '');
  }
  if (r.tokParity) {
    const t = r.tokParity;
    L.push(`Vocabulary: llama.cpp tokenizes ${t.same} of ${t.texts} test texts (${t.tokens} tokens: English, numbers, CJK, code, accents) exactly as dsv32 does with ` +
      `${t.model}'s tokenizer.json, from the exported tokens, merges and \`tokenizer.ggml.pre\`.`, '');
  }
  return L.join('\n');
}

/** The rows measured with the optional native GEMM for prefill (present only when it was built). */
function blasRows(r: Report): { qB?: EngineResult; nB?: EngineResult } {
  return { qB: r.best.get(engineLabel('dsv32', 'q8', r.a.threads, true)), nB: r.best.get(engineLabel('dsv32', 'native', r.a.threads, true)) };
}

/** "What limits it": the measured numbers behind each missed target, with the cause the profile shows. */
function limits(r: Report, roofOf: (res: EngineResult) => { bytes: number; fraction: number }): string[] {
  const { a, cfg } = r;
  const get = (e: 'dsv32' | 'llamacpp', w: 'native' | 'q8', th: number) => r.best.get(engineLabel(e, w, th));
  const L = ['### What limits dsv32 here (profiles of this run)', ''];
  const q = get('dsv32', 'q8', a.threads);
  const lq = get('llamacpp', 'q8', a.threads);
  const n = get('dsv32', 'native', a.threads);
  const { qB, nB } = blasRows(r);
  const pct = (f: number) => `${Math.round(100 * f)} %`;
  if (q) {
    const x = roofOf(q);
    const gbs = (ms: number) => f1(x.bytes / (ms / 1000) / 1e9);
    const ops = r.long?.points[0]?.dsa.decodeOps;
    const calls = ops ? Math.round((ops['matmul calls'] ?? 0) + (ops['matmulList calls'] ?? 0) + (ops['matmulGrouped calls'] ?? 0)) : null;
    L.push(`- **Decode, q8**: ${gb(x.bytes)} per token at ${gbs(q.decodeMsPerToken)} GB/s (median step; ${gbs(q.decodeBestMs)} GB/s at the best step) against ` +
      `${f1(r.bw.gbPerS[a.threads]!)} GB/s measured: ${pct(x.fraction)} of the roofline. The q8 weights are stored in tiles of four rows interleaved by ` +
      '32-code block (scales likewise), so a GEMV streams one pointer per tile instead of four row streams and four scale streams: the kernels bench\'s ' +
      'q8 GEMV from DRAM went 15.4 → 24.2 GB/s on one thread and 31.3 → 47.6 on two (an AMD host). Each tile is walked as two halves at once, two read ' +
      'streams in flight instead of one: on an Intel Xeon host (15 / 20.5 GB/s probe) that took this model\'s q8 decode from 33.0 to 22.2 ms per token on two ' +
      'threads (0.77× → 1.11× llama.cpp) and an 8192² q8 GEMV from 7.2 to 9.4 GB/s on one. For short rows the two halves of a tile share a 4 KiB page, where ' +
      'the L2 streamer follows only one stream, so the GEMV now walks tiles i and i + h of its range side by side (two streams, always in different pages): ' +
      'from DRAM a 2048×1024 q8 GEMV (this model\'s expert down projection) went 6.1 → 9.9 GB/s on one thread and 12.2 → 21.0 on two, and a decode token ' +
      '~22.2 → ~18.4 ms in a profile of this model. Where tiles are 8 KiB or more each of the two tiles is also walked as two halves — four streams, ' +
      'with the activations pre-widened to int16 so that eight accumulators fit V8\'s 16 vector registers — (12288×2048 from DRAM, two threads: 19 → 23.6 GB/s), ' +
      'and a decode step\'s MoE runs its chosen experts\' and the shared expert\'s gate/up products in one call and their down products in another ' +
      '(`matmulList`: one split of all their rows over the threads) instead of two calls per expert: together ~18.8 → ~17.5 ms per token. ' +
      'What is left: per-call ramp-up (a token still makes dozens of 1–5 MB products), attention over the context ' +
      '(~1.4 ms at 512 tokens, arithmetic), the absorbed per-head products with 128-wide rows, and the arithmetic: every int8 weight is widened to int16 ' +
      'before `i32x4.dot_i16x8_s` (no int8 dot product in SIMD128), ~20 G weights/s per thread in cache. Relaxed SIMD\'s ' +
      '`i32x4.relaxed_dot_i8x16_i7x16_add_s` (pmaddubsw on this V8, saturating) is 2× faster but needs one operand in 0..127: 7-bit weights moved the tiny-fp8 ' +
      'golden logits to 7.6 % median error (argmax 30/40), 7-bit activations double the activation rounding — not shipped. ' +
      `A token makes ${calls ?? 'about forty'} product calls (the heads' absorbed W_UK/W_UV products are one grouped call each per layer, a MoE layer's experts two list calls).`);
  }
  if (n) {
    const x = roofOf(n);
    L.push(`- **Decode, bf16**: ${pct(x.fraction)} of the roofline (median step). BF16 weights are tiled like q8 (four rows interleaved by 8-value ` +
      'block): the kernels bench\'s bf16 GEMV from DRAM went 18.3 → 24.3 GB/s on one thread and 31.1 → 44.7 on two. The GEMV widens each weight with a shift or a mask and multiplies and adds (~18 G weights/s per ' +
      'thread in cache, ~36 GB/s); a fused multiply-add was 16 % slower on this accumulator chain (latency) and more accumulators spill V8\'s 16 vector registers. ' +
      'Like q8 it walks two tiles side by side, each as two halves where a tile is 8 KiB or more — four read streams, each in its own page (a 2048×2048 bf16 ' +
      'GEMV from DRAM: 8.5 → 11 GB/s on one thread, 17 → 22 on two; 4096×512: 5.2 → 9.0 on one) — and sums the two products before the accumulator (one add per ' +
      'block on its chain). On the Intel host above bf16 decode went 54.2 → 34.8 ms per token on two threads (0.66× → 0.96× llama.cpp) with two streams, and ' +
      'to ~28–30 ms with four and the MoE\'s products listed in two calls per step.');
  }
  if (q && lq) {
    const fl = flopsPerToken(cfg, Math.floor(a.prompt / 2), 'prefill', 'dsa');
    const per = fl.total - fl.lmHead;
    const gf = (tps: number) => f1((per * tps) / 1e9);
    L.push(`- **Prefill**: ~${f2(per / 1e9)} GFLOP per prompt token (matmuls; lm_head only for the last token): dsv32 q8 runs them at ${gf(q.prefillTokS)} GFLOP/s, ` +
      `llama.cpp Q8_0 at ${gf(lq.prefillTokS)} GFLOP/s${n ? `, dsv32 bf16 at ${gf(n.prefillTokS)}` : ''}. ` +
      (q.prefillOps && q.prefillMs ? `${Math.round((100 * (q.prefillOps.matmul ?? 0)) / q.prefillMs)} % of dsv32 q8's prefill time is in matmul ` +
        `(${Math.round((100 * (q.prefillOps['matmul routed experts'] ?? 0)) / q.prefillMs)} % in the routed experts\' GEMMs), ` +
        `${Math.round((100 * (q.prefillOps.mhaAttention ?? 0)) / q.prefillMs)} % in attention. ` : '') +
      'Both wasm GEMMs run near SIMD128\'s ceiling on this core: the f32 micro-kernel (4×8 register block, fused multiply-add) ~45 GFLOP/s per thread; the ' +
      'int8 one (`i32x4.dot_i16x8_s`) takes a tile of four weight rows against two activation rows at a time, the activations widened to int16 once by the ' +
      'quantiser, so each weight block is widened once per two rows (2048² on the Intel host: 37.5 → 47.5 GFLOP/s per thread, 76 → 90 on two threads). ' +
      'llama.cpp uses AVX-512 VNNI (64 int8 products per instruction) and BF16 dot instructions. ' +
      (qB || nB
        ? `The optional native GEMM closes it: a 60-line N-API addon (native/blas.c) calls the system OpenBLAS\'s \`cblas_sgemm\` (~220 GFLOP/s on two threads here) for ` +
          `products of ≥ 16 rows, with the weight unpacked to fp32 per call (q8 also rounds the activations to int8 first, so q8 means the same thing on both paths); ` +
          `prefill then runs at ${qB ? `${f1(qB.prefillTokS)} tok/s (q8)` : ''}${qB && nB ? ' and ' : ''}${nB ? `${f1(nB.prefillTokS)} tok/s (bf16)` : ''}. Decode keeps the wasm kernels.`
        : 'The optional native GEMM (`npm run setup:native`: OpenBLAS behind the same Backend interface) was not built for this run.'));
  }
  const p64 = r.long?.points.find((x) => x.ctx === 65536);
  if (p64) {
    const o = p64.dense.decodeOps;
    const attFlop = cfg.numLayers * cfg.numHeads * 65536 * (2 * cfg.kvLoraRank + cfg.qkRopeHeadDim) * 2;
    L.push(`- **Long context, dense**: at 64K, latentAttention is ${f1(o.latentAttention ?? 0)} of ${f1(p64.dense.decodeMs)} ms per token ` +
      `(${f1(attFlop / ((o.latentAttention ?? 1) / 1000) / 1e9)} GFLOP/s). The kernel works like flash decoding: each thread decodes 32 of its FP8 rows at a ` +
      'time into cache-resident scratch, scores them for every head (blocks of four heads, two rows per pass), keeps a running max, sum and unnormalised ' +
      'output per head, and one merge combines the threads — the cache is read once, with no fp32 copy. It is arithmetic-bound, so DSA\'s speedup here ' +
      'follows the FLOP ratio.');
    const d = p64.dsa.decodeOps;
    L.push(`- **Long context, DSA**: at 64K, indexer scoring is ${f1(d.indexerScores ?? 0)} of ${f1(p64.dsa.decodeMs)} ms per token, top-k ${f1(d.topk ?? 0)} ms, ` +
      `attention over the 2048 selected rows ${f1(d.latentAttention ?? 0)} ms, matmuls ${f1((d.matmul ?? 0) + (d.matmulList ?? 0) + (d.matmulGrouped ?? 0))} ms. \`indexer_scores\` reads the FP8 keys in place, ` +
      'decodes each key once per block of queries and scores two heads × four keys per pass (the four keys\' sums in one vector); top-k is a radix select ' +
      '(two passes over the scores, not a sort). The key decode tests a key\'s 128 codes for zero/subnormal exponents once and then rebiases them in 16-bit ' +
      'lanes (the sign-extended code shifted by 4 and masked is the bf16 of the value) with no byte shuffles — V8 lowers a two-input `i8x16.shuffle` to ' +
      'several instructions — which took 8 heads × 64K keys from 5.0 to 3.85 ms on one thread; what remains is the 8 × 128 multiply-adds per key.');
  }
  return L;
}

/** Replaces the "## End to end" section (up to the next "## " heading) or appends it. */
function spliceSection(doc: string, section: string): string {
  const start = doc.indexOf('\n## End to end');
  if (start < 0) return doc.replace(/\n*$/, '\n\n') + section + '\n';
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(0, start + 1) + section + (next < 0 ? '\n' : '\n' + doc.slice(next + 1));
}
