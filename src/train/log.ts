// The training log a run leaves in its output folder (train_log.json) and its loss curves (loss.svg).
// A stage that starts from one of our checkpoints carries the earlier stages' records forward, so the
// final model's folder holds the whole pretrain → indexer-warmup → sparse history.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Panel, renderSvg, type Series } from '../cli/plot.js';

export interface StepRecord {
  step: number;
  loss: number;
  lm: number | null;
  mtp: number | null;
  indexer_kl: number | null;
  balance: number | null;
  grad_norm: number;
  lr: number;
  /** max/mean tokens per routed expert, worst MoE layer (1 = perfectly balanced); null without MoE */
  load_max_mean: number | null;
  tokens_per_s: number;
  elapsed_s: number;
}

export interface StageLog {
  stage: string;
  started: string;
  origin: string;
  notes: string[];
  /** the options the stage ran with (command-line names) */
  options: Record<string, unknown>;
  params: number;
  steps: number;
  tokens: number;
  wall_s: number;
  /** whether --steps or --max-minutes ended the stage */
  stopped_by: 'steps' | 'time';
  records: StepRecord[];
}

export interface TrainLog {
  stages: StageLog[];
}

export const LOG_FILE = 'train_log.json';
export const CURVES_FILE = 'loss.svg';

/** The earlier stages recorded in a model folder (none when it has no log or a foreign one). */
export function previousStages(dir: string | undefined): StageLog[] {
  if (!dir) return [];
  const p = join(dir, LOG_FILE);
  if (!existsSync(p)) return [];
  try {
    const log = JSON.parse(readFileSync(p, 'utf8')) as Partial<TrainLog>;
    return Array.isArray(log.stages) ? log.stages : [];
  } catch {
    return [];
  }
}

/** Loss against step: one panel per stage (LM and MTP cross-entropy, indexer KL). */
export function curvesSvg(log: TrainLog): string {
  const panels: Panel[] = [];
  for (const st of log.stages) {
    const series: Series[] = [];
    const pick = (name: string, f: (r: StepRecord) => number | null, color?: string) => {
      const pts = st.records.flatMap((r) => { const v = f(r); return v === null || !Number.isFinite(v) ? [] : [[r.step, v] as const]; });
      if (pts.length) series.push({ name, points: smooth(pts), ...(color ? { color } : {}) });
    };
    pick('LM cross-entropy', (r) => r.lm);
    pick('MTP cross-entropy', (r) => r.mtp);
    pick('indexer KL', (r) => r.indexer_kl);
    if (!series.length) continue;
    panels.push({ title: `${st.stage} (${st.steps} steps, ${fmtTokens(st.tokens)} tokens)`, xLabel: 'step', yLabel: 'loss (nats)', series, legend: 'top-right' });
  }
  if (!panels.length) panels.push({ title: 'no steps yet', series: [{ name: 'none', points: [[0, 0]] }] });
  return renderSvg({ title: 'dsv32 training loss', panels, columns: Math.min(3, panels.length) });
}

/** Running mean over ~1/50 of the run, so noise of single batches does not hide the trend. */
function smooth(pts: (readonly [number, number])[]): [number, number][] {
  const w = Math.max(1, Math.floor(pts.length / 50));
  const out: [number, number][] = [];
  let acc = 0;
  for (let i = 0; i < pts.length; i++) {
    acc += pts[i]![1];
    if (i >= w) acc -= pts[i - w]![1];
    out.push([pts[i]![0], acc / Math.min(i + 1, w)]);
  }
  return out;
}

function fmtTokens(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);
}
