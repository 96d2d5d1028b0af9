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
const bigBytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB = ${bytes(n)}` : bytes(n));
const int = (n: number) => n.toLocaleString('en-US');
const pad = (s: string, w: number) => s.padStart(w);

export interface Unit { name: string; scale: number }

/** The largest decimal unit the smallest value still reaches, so a 671B model reads in GFLOP and a tiny one in MFLOP. */
export function unitFor(min: number, base: 'FLOP' | 'B'): Unit {
  for (const [scale, prefix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']] as const) if (min >= scale) return { name: `${prefix}${base}`, scale };
  return { name: base, scale: 1 };
}

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
  if (ic) lines.push(`  without the indexers: ${B(p.params.activated - p.params.indexer)} activated — the count DeepSeek's published "37B activated" (pre-DSA) corresponds to`);
  lines.push(
    cfg.numMtpLayers ? `parameters (MTP, apart): ${B(p.params.mtp)} (+${B(p.params.mtpDuplicates)} duplicated embedding/head)` : 'parameters (MTP): none',
    '',
    `weights (${o.weights}): main ${bigBytes(p.weights.main.total)} (${byFormat(p.weights.main.byFormat)})`,
    cfg.numMtpLayers ? `  MTP ${bigBytes(p.weights.mtp.total)} (${byFormat(p.weights.mtp.byFormat)}), of which ${bytes(p.weights.mtp.duplicates)} duplicated embedding/head` : '  MTP none',
    `cache per token: ${p.cachePerToken.perLayer.mla} B MLA latent${ic ? ` + ${p.cachePerToken.perLayer.indexer} B indexer keys` : ''} per layer × ${cfg.numLayers} = ${int(p.cachePerToken.total)} B${cfg.numMtpLayers ? ` (MTP layers +${p.cachePerToken.mtp} B)` : ''}`,
    `cache for ${int(o.context)} tokens × ${o.batch}: ${bytes(p.cache.total)}${ic ? ` (MLA ${bytes(p.cache.mla)}, indexer ${bytes(p.cache.indexer)})` : ''}`,
    '',
  );
  const rows = costCurve(cfg, tablePositions(cfg, o.context), o.weights, o.kv);
  const fu = unitFor(Math.min(...rows.map((c) => Math.min(c.prefill.dense, c.decode.dense))), 'FLOP');
  const bu = unitFor(Math.min(...rows.map((c) => c.decodeBytes.dense)), 'B');
  const f = (n: number) => (n / fu.scale).toFixed(1);
  const b = (n: number) => (n / bu.scale).toFixed(2);
  lines.push(
    `per token (${fu.name} of matmul FLOPs; prefill in MHA mode, decode in absorbed MQA mode; ${bu.name} read = decode weights + cache rows, batch 1):`,
    `${pad('position', 9)} ${pad('prefill dense', 14)} ${pad('DSA', 8)} ${pad('ratio', 7)}  ${pad('decode dense', 13)} ${pad('DSA', 8)} ${pad('ratio', 7)}  ${pad(`${bu.name} read dense`, 14)} ${pad('DSA', 7)}`,
  );
  for (const c of rows) {
    const { prefill: pre, decode: dec } = c;
    lines.push(`${pad(int(c.position), 9)} ${pad(f(pre.dense), 14)} ${pad(f(pre.dsa), 8)} ${pad((pre.dense / pre.dsa).toFixed(2) + '×', 7)}  ${pad(f(dec.dense), 13)} ${pad(f(dec.dsa), 8)} ${pad((dec.dense / dec.dsa).toFixed(2) + '×', 7)}  ${pad(b(c.decodeBytes.dense), 14)} ${pad(b(c.decodeBytes.dsa), 7)}`);
  }
  const d = p.flops.decode;
  lines.push('');
  if (ic) {
    const growth = d.dsa.total - rows[0]!.decode.dsa;
    lines.push(`at position ${int(o.context)}: dense/DSA cost ratio ${(d.dense.total / d.dsa.total).toFixed(2)}× for decode, ${(p.flops.prefill.dense.total / p.flops.prefill.dsa.total).toFixed(2)}× for prefill`);
    if (growth > 0) lines.push(`  DSA decode growth since position 0: +${f(growth)} ${fu.name}, of which indexer scoring ${f(d.dsa.indexerScore)} (${((100 * d.dsa.indexerScore) / growth).toFixed(0)}%) — O(L) per token even with DSA`);
  } else {
    lines.push('no indexer: DSA figures equal dense');
  }
  lines.push(`  decode at position ${int(o.context)}${ic ? ' with DSA' : ''}: ${f(d.dsa.total)} ${fu.name} = attention projections ${f(d.dsa.attnProj)} + attention core ${f(d.dsa.attnCore)} + indexer ${f(d.dsa.indexerProj + d.dsa.indexerScore)} + FFN ${f(d.dsa.ffn)} + lm_head ${f(d.dsa.lmHead)}`);
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

const tokenLabel = (v: number) => (v === 0 ? '0' : v >= 1024 && v % 256 === 0 ? `${v / 1024}K` : String(v));

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
    markers: cfg.indexer ? [{ x: cfg.indexer.topk, label: `top-k = ${cfg.indexer.topk}` }] : [],
  };
  const fu = unitFor(curve[0]!.decode.dense, 'FLOP');
  const bu = unitFor(curve[0]!.decodeBytes.dense, 'B');
  const panels: Panel[] = [
    { ...common, title: 'Prefill (MHA mode): FLOPs per token', yLabel: `${fu.name} per token`, series: series((c) => c.prefill, fu.scale) },
    { ...common, title: 'Decode (MQA mode): FLOPs per token', yLabel: `${fu.name} per token`, series: series((c) => c.decode, fu.scale) },
    { ...common, title: `Decode: bytes read per token (${dtype}, batch 1)`, yLabel: `${bu.name} read per token`, series: series((c) => c.decodeBytes, bu.scale) },
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
