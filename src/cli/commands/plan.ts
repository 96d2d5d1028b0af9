// dsv32 plan: what a config needs and costs — weight bytes per release dtype, cache bytes, parameters,
// FLOPs and decode bytes per token at a position (dense attention vs DSA), and an SVG of cost against
// position like the V3.2 tech report's figure. The arithmetic lives in model/plan.ts.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type ModelConfig } from '../../model/config.js';
import {
  CACHE_DTYPES, type CacheDtype, costCurve, type FlopsBreakdown, type Plan, planModel, WEIGHT_DTYPES, type WeightDtype,
} from '../../model/plan.js';
import { type Panel, renderSvg } from '../plot.js';

export interface PlanCliOptions {
  config: string;
  dtype: string;
  kvDtype: string;
  context?: string;
  batch: string;
  json?: boolean;
  plot?: string;
}

function parseCount(s: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(s.trim())) throw new Error(`${flag}: "${s}" is not an integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`${flag}: ${s} is too large`);
  if (n < min) throw new Error(`${flag}: must be ≥ ${min} (got ${n})`);
  return n;
}

function oneOf<T extends string>(s: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(s)) throw new Error(`${flag}: must be one of ${allowed.join(', ')} (got "${s}")`);
  return s as T;
}

/** Default position: 128K (the report's figure) or the model's last position, whichever is smaller. */
export function defaultContext(cfg: ModelConfig): number {
  return Math.min(131072, cfg.maxPositions - 1);
}

const snake = (b: FlopsBreakdown) => ({
  attn_proj: b.attnProj, attn_core: b.attnCore, indexer_proj: b.indexerProj, indexer_score: b.indexerScore, ffn: b.ffn, lm_head: b.lmHead, total: b.total,
});

/** The --json document: the documented top-level keys, snake_case throughout. */
export function planJson(p: Plan): Record<string, unknown> {
  const phase = (ph: 'prefill' | 'decode') => ({
    dense: p.flops[ph].dense.total,
    dsa: p.flops[ph].dsa.total,
    dense_over_dsa: p.flops[ph].dense.total / p.flops[ph].dsa.total,
    breakdown: { dense: snake(p.flops[ph].dense), dsa: snake(p.flops[ph].dsa) },
  });
  return {
    model_type: p.modelType,
    options: { dtype: p.options.weights, kv_dtype: p.options.kv, context: p.options.context, batch: p.options.batch },
    params: {
      total: p.params.total,
      activated: p.params.activated,
      activated_with_embedding: p.params.activatedWithEmbedding,
      indexer: p.params.indexer,
      mtp: p.params.mtp,
      mtp_duplicates: p.params.mtpDuplicates,
    },
    kv_bytes_per_token: p.cachePerToken.total,
    flops: { position: p.flops.position, prefill: phase('prefill'), decode: phase('decode') },
    decode_bytes_read: p.decodeBytes,
    weights_bytes: {
      dtype: p.weights.dtype,
      main: { total: p.weights.main.total, by_format: p.weights.main.byFormat },
      mtp: { total: p.weights.mtp.total, by_format: p.weights.mtp.byFormat, duplicates: p.weights.mtp.duplicates },
    },
    cache_bytes: {
      per_token: { mla_per_layer: p.cachePerToken.perLayer.mla, indexer_per_layer: p.cachePerToken.perLayer.indexer, total: p.cachePerToken.total, mtp: p.cachePerToken.mtp },
      context: p.cache.context,
      batch: p.cache.batch,
      mla: p.cache.mla,
      indexer: p.cache.indexer,
      total: p.cache.total,
      mtp: p.cache.mtp,
    },
    warnings: p.warnings,
  };
}

const B = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : `${n}`);
const bytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB = ${bytes(n)}`;
const int = (n: number) => n.toLocaleString('en-US');
const gflop = (n: number) => (n / 1e9).toFixed(1);
const pad = (s: string, w: number) => s.padStart(w);

function byFormat(f: Record<string, number>): string {
  return Object.entries(f).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${bytes(v)}`).join(', ');
}

/** Positions of the text table: 0, 4K, 32K, 128K and the chosen one, within the model's range. */
export function tablePositions(cfg: ModelConfig, context: number): number[] {
  const set = new Set([0, 4096, 32768, 131072].filter((p) => p < cfg.maxPositions));
  set.add(context);
  return [...set].sort((a, b) => a - b);
}

export function describePlan(cfg: ModelConfig, p: Plan, source: string): string {
  const o = p.options;
  const ic = cfg.indexer;
  const lines = [
    `plan: ${cfg.modelType}${ic ? ` (MLA + DSA, top-k ${ic.topk})` : ' (MLA, dense attention: DSA = dense)'} from ${source}`,
    `weights ${o.weights}, cache ${o.kv}, context ${int(o.context)} tokens × batch ${o.batch} (per-token figures at position ${int(o.context)})`,
    '',
    `parameters (main model): ${B(p.params.total)} total; ${B(p.params.activated)} activated per token without the embedding lookup (${B(p.params.activatedWithEmbedding)} with it)${ic ? `, of which ${B(p.params.indexer)} lightning indexers` : ''}`,
  ];
  if (ic) lines.push(`  note: DeepSeek's published "37B activated" predates the indexers: ${B(p.params.activated - p.params.indexer)} without them`);
  lines.push(
    cfg.numMtpLayers ? `parameters (MTP, apart): ${B(p.params.mtp)} (+${B(p.params.mtpDuplicates)} duplicated embedding/head)` : 'parameters (MTP): none',
    '',
    `weights (${o.weights}): main ${gb(p.weights.main.total)} (${byFormat(p.weights.main.byFormat)})`,
    cfg.numMtpLayers ? `  MTP ${gb(p.weights.mtp.total)} (${byFormat(p.weights.mtp.byFormat)}), of which ${bytes(p.weights.mtp.duplicates)} duplicated embedding/head` : '  MTP none',
    `cache per token: ${p.cachePerToken.perLayer.mla} B MLA latent${ic ? ` + ${p.cachePerToken.perLayer.indexer} B indexer keys` : ''} per layer × ${cfg.numLayers} = ${int(p.cachePerToken.total)} B${cfg.numMtpLayers ? ` (MTP layers +${p.cachePerToken.mtp} B)` : ''}`,
    `cache for ${int(o.context)} tokens × ${o.batch}: ${bytes(p.cache.total)}${ic ? ` (MLA ${bytes(p.cache.mla)}, indexer ${bytes(p.cache.indexer)})` : ''}`,
    '',
    'per token (GFLOP = 1e9 matmul FLOPs; prefill in MHA mode, decode in absorbed MQA mode; GB read = decode weights + cache, batch 1):',
    `${pad('position', 9)} ${pad('prefill dense', 14)} ${pad('DSA', 8)} ${pad('ratio', 7)}  ${pad('decode dense', 13)} ${pad('DSA', 8)} ${pad('ratio', 7)}  ${pad('GB read dense', 14)} ${pad('DSA', 6)}`,
  );
  for (const pos of tablePositions(cfg, o.context)) {
    const [c] = costCurve(cfg, [pos], o.weights, o.kv);
    const pre = c!.prefill;
    const dec = c!.decode;
    lines.push(`${pad(int(pos), 9)} ${pad(gflop(pre.dense), 14)} ${pad(gflop(pre.dsa), 8)} ${pad((pre.dense / pre.dsa).toFixed(2) + '×', 7)}  ${pad(gflop(dec.dense), 13)} ${pad(gflop(dec.dsa), 8)} ${pad((dec.dense / dec.dsa).toFixed(2) + '×', 7)}  ${pad((c!.decodeBytes.dense / 1e9).toFixed(2), 14)} ${pad((c!.decodeBytes.dsa / 1e9).toFixed(2), 6)}`);
  }
  const d = p.flops.decode;
  lines.push('');
  if (ic) {
    const d0 = costCurve(cfg, [0], o.weights, o.kv)[0]!.decode.dsa;
    const growth = d.dsa.total - d0;
    lines.push(`at position ${int(o.context)}: decode with DSA is ${(d.dense.total / d.dsa.total).toFixed(2)}× cheaper than dense, prefill ${(p.flops.prefill.dense.total / p.flops.prefill.dsa.total).toFixed(2)}×`);
    if (growth > 0) lines.push(`  DSA decode growth since position 0: +${gflop(growth)} GFLOP, of which indexer scoring ${gflop(d.dsa.indexerScore)} (${((100 * d.dsa.indexerScore) / growth).toFixed(0)}%) — O(L) per token even with DSA`);
  } else {
    lines.push('no indexer: DSA figures equal dense');
  }
  lines.push(`  decode at position ${int(o.context)}: ${gflop(d.dsa.total)} GFLOP (dsa) = attention proj ${gflop(d.dsa.attnProj)} + core ${gflop(d.dsa.attnCore)} + indexer ${gflop(d.dsa.indexerProj + d.dsa.indexerScore)} + FFN ${gflop(d.dsa.ffn)} + lm_head ${gflop(d.dsa.lmHead)}`);
  return lines.join('\n');
}

/** x ticks at power-of-two multiples of 1K tokens, labelled "32K". */
function tokenTicks(max: number): number[] {
  let step = 1024;
  while (max / step > 8) step *= 2;
  while (max / step < 3 && step > 1) step /= 2;
  const out: number[] = [];
  for (let v = 0; v <= max; v += step) out.push(v);
  return out;
}

const tokenLabel = (v: number) => (v === 0 ? '0' : v % 1024 === 0 ? `${v / 1024}K` : String(v));

/** The cost figure: prefill and decode FLOPs and decode bytes per token against position. */
export function planSvg(cfg: ModelConfig, maxPos: number, dtype: WeightDtype, kv: CacheDtype): string {
  const n = 400;
  const set = new Set<number>();
  for (let i = 0; i <= n; i++) set.add(Math.round((i * maxPos) / n));
  // exact knee of the DSA curves
  if (cfg.indexer && cfg.indexer.topk <= maxPos) { set.add(cfg.indexer.topk - 1); set.add(cfg.indexer.topk); }
  const positions = [...set].sort((a, b) => a - b);
  const curve = costCurve(cfg, positions, dtype, kv);
  const dsaName = cfg.indexer ? `DSA (top-k ${cfg.indexer.topk})` : 'DSA (= dense, no indexer)';
  const series = (get: (c: (typeof curve)[number]) => { dense: number; dsa: number }, scale: number) => [
    { name: 'dense attention', points: curve.map((c) => [c.position, get(c).dense / scale] as const), color: '#D55E00' },
    { name: dsaName, points: curve.map((c) => [c.position, get(c).dsa / scale] as const), color: '#0072B2', dash: cfg.indexer ? undefined : '6 4' },
  ];
  const common = {
    xLabel: 'token position',
    xTicks: tokenTicks(maxPos),
    xFormat: tokenLabel,
    xMin: 0,
    xMax: maxPos,
    yFormat: (v: number) => v.toLocaleString('en-US'),
    markers: cfg.indexer ? [{ x: cfg.indexer.topk, label: `k=${cfg.indexer.topk}` }] : [],
  };
  const panels: Panel[] = [
    { ...common, title: 'Prefill (MHA mode): FLOPs per token', yLabel: 'GFLOP per token', series: series((c) => c.prefill, 1e9) },
    { ...common, title: 'Decode (MQA mode): FLOPs per token', yLabel: 'GFLOP per token', series: series((c) => c.decode, 1e9) },
    { ...common, title: `Decode: bytes read per token (${dtype}, batch 1)`, yLabel: 'GB read per token', series: series((c) => c.decodeBytes, 1e9) },
  ];
  return renderSvg({ title: `${cfg.modelType}: cost per token vs position (weights ${dtype}, cache ${kv})`, panels, columns: 3 });
}

export function runPlan(o: PlanCliOptions): { text: string; warnings: string[] } {
  const dtype = oneOf(o.dtype, WEIGHT_DTYPES, '--dtype');
  const kv = oneOf(o.kvDtype, CACHE_DTYPES, '--kv-dtype');
  const batch = parseCount(o.batch, '--batch', 1);
  const cfg = loadConfig(o.config);
  const context = o.context === undefined ? defaultContext(cfg) : parseCount(o.context, '--context', 0);
  const plan = planModel(cfg, { weights: dtype, kv, context, batch });
  if (o.plot) writeFileSync(o.plot, planSvg(cfg, o.context === undefined ? cfg.maxPositions : Math.max(context, 1), dtype, kv));
  const text = o.json ? JSON.stringify(planJson(plan), null, 2) : describePlan(cfg, plan, o.config);
  return { text, warnings: plan.warnings };
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('what a model config needs and costs: weight and cache bytes, parameters, FLOPs and decode bytes per token (dense vs DSA), cost plot')
    .requiredOption('--config <path>', 'config.json, or a folder containing one')
    .option('--dtype <dtype>', `weight storage: ${WEIGHT_DTYPES.join('|')} (fp8 = FP8 release with 128×128 scales; q8 = int8 + f16 scale per 32, like Q8_0)`, 'fp8')
    .option('--kv-dtype <dtype>', `cache format: ${CACHE_DTYPES.join('|')}`, 'fp8')
    .option('--context <n>', 'tokens in the cache = position of the per-token figures (default: 128K or the last position); beyond max_position_embeddings warns')
    .option('--batch <n>', 'sequences for the cache total', '1')
    .option('--json', 'print the figures as JSON')
    .option('--plot <file>', 'write an SVG of cost per token vs position (0 .. --context, or max_position_embeddings)')
    .action((o: PlanCliOptions) => {
      const { text, warnings } = runPlan(o);
      for (const w of warnings) process.stderr.write(`dsv32 plan: warning: ${w}\n`);
      process.stdout.write(text + '\n');
      if (o.plot) process.stderr.write(`dsv32 plan: wrote ${o.plot}\n`);
    });
}
