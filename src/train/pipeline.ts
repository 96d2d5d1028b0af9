// One training stage end to end (what `dsv32 train <stage>` runs): weights from a config/preset or a
// checkpoint folder (source.ts), text tokenised into a BOS-led stream (data.ts), the Trainer stepping
// over random windows with the wasm GEMM installed, and a model folder written at every save point —
// HF safetensors + config.json + tokenizer files + generation_config.json, which DeepSeekModel.load
// and the engine read unchanged — plus train_log.json and loss.svg (log.ts).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../runtime/runtime.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { gemmPortable, setGemm } from './autograd/gemm.js';
import { saveCheckpoint } from './checkpoint.js';
import { tokenizeDocuments, tokenizeFile, splitDocuments, WindowSampler } from './data.js';
import { CURVES_FILE, curvesSvg, LOG_FILE, previousStages, type StageLog, type StepRecord, type TrainLog } from './log.js';
import { TrainModel } from './model.js';
import type { TrainMode } from './params.js';
import { freshSource, loadSource, presetRaw, type TrainSource } from './source.js';
import { Trainer, type TrainerOptions } from './trainer.js';
import { WasmGemm } from './wasm-gemm.js';
import { Rng } from './random.js';
import { mixRetrieval, RETRIEVAL_MODES, type RetrievalMode, RetrievalWindows } from './retrieval.js';

export const STAGES: readonly TrainMode[] = ['pretrain', 'indexer-warmup', 'sparse'];

/** Per-stage defaults: spec §14 uses 1e-3 for the indexer warm-up; small models pretrain well near 1e-3. */
export const DEFAULT_LR: Record<TrainMode, number> = { 'pretrain': 1e-3, 'indexer-warmup': 1e-3, 'sparse': 1e-4 };

/** Our trained tokenizer, found from the package root (any cwd). */
export const DEFAULT_TOKENIZER_DIR = join(packageRoot, 'data', 'tokenizer');

export interface TrainStageOptions {
  stage: TrainMode;
  /** exactly one source: a config.json path, a preset name, or a model folder */
  config?: string;
  preset?: string;
  model?: string;
  /** training text: a file (corpus format: paragraphs per line, blank line between documents) or inline */
  data?: string;
  text?: string;
  /** tokenizer folder (default: the model folder's own tokenizer, else data/tokenizer) */
  tokenizer?: string;
  seq: number;
  batch: number;
  steps: number;
  lr?: number;
  /** final LR of the cosine decay (default lr/10) */
  minLr?: number;
  warmup?: number;
  out: string;
  seed?: number;
  /**
   * wall-clock budget in minutes: the run stops when it is spent, and the cosine LR schedule follows
   * the steps the budget is projected to allow (so it still ends at min-lr). For shared machines.
   */
  maxMinutes?: number;
  /** write the model folder every N steps (0 = only at the end) */
  saveEvery?: number;
  /** share of training windows replaced by retrieval (passkey-style) windows, 0–1 (default 0) */
  retrieval?: number;
  /** retrieval windows with one key ('single'), half of them several short episodes ('mixed', default), a third each of those and copy drills ('copy'), half drills with short spans too ('induction'), or drills only ('drills') */
  retrievalMode?: RetrievalMode;
  /** index_topk written to (and used by) the model */
  topk?: number;
  dtype?: 'F32' | 'BF16';
  weightDecay?: number;
  clip?: number;
  mtpWeight?: number;
  /** γ of the aux-loss-free router-bias update (DeepSeek-V3: 1e-3 over a very long run) */
  biasRate?: number;
  /** GEMM threads (default min(2, cores)); wasm false = the portable JS kernel */
  threads?: number;
  wasm?: boolean;
  onEvent?: (e: TrainEvent) => void;
}

export type TrainEvent =
  | { type: 'tokenize'; done: number; total: number }
  | { type: 'start'; stage: TrainMode; params: number; trainable: number; streamTokens: number; origin: string; notes: string[]; gemm: string }
  | { type: 'step'; record: StepRecord; total: number }
  | { type: 'save'; step: number; dir: string };

export interface TrainStageResult {
  out: string;
  log: StageLog;
  model: TrainModel;
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new Error(msg);
}

function positiveInt(v: number, flag: string, min = 1): void {
  check(Number.isInteger(v) && v >= min, `${flag}: must be an integer ≥ ${min} (got ${v})`);
}

/** Bad options are reported before any work starts, named by their command-line flags. */
export function validateOptions(o: TrainStageOptions): void {
  check(STAGES.includes(o.stage), `unknown stage "${o.stage}" (stages: ${STAGES.join(', ')})`);
  const sources = [o.config, o.preset, o.model].filter((s) => s !== undefined).length;
  check(sources === 1, sources ? 'give only one of --config, --preset, --model' : 'give one of --config FILE, --preset NAME or --model DIR');
  if (o.stage !== 'pretrain') check(o.model !== undefined, `${o.stage} trains an existing model: give --model DIR (a deepseek_v3/v32 checkpoint)`);
  check((o.data !== undefined) !== (o.text !== undefined), 'give --data FILE (training text)');
  if (o.data !== undefined) check(existsSync(o.data), `--data: ${o.data} does not exist`);
  if (o.config !== undefined) check(existsSync(o.config), `--config: ${o.config} does not exist`);
  if (o.model !== undefined) check(existsSync(join(o.model, 'config.json')), `--model: ${o.model} has no config.json (not a model folder)`);
  positiveInt(o.seq, '--seq', 2);
  positiveInt(o.batch, '--batch');
  positiveInt(o.steps, '--steps');
  if (o.lr !== undefined) check(Number.isFinite(o.lr) && o.lr > 0, `--lr: must be a positive number (got ${o.lr})`);
  if (o.minLr !== undefined) check(Number.isFinite(o.minLr) && o.minLr >= 0, `--min-lr: must be ≥ 0 (got ${o.minLr})`);
  if (o.warmup !== undefined) positiveInt(o.warmup, '--warmup', 0);
  if (o.saveEvery !== undefined) positiveInt(o.saveEvery, '--save-every', 0);
  if (o.maxMinutes !== undefined) check(Number.isFinite(o.maxMinutes) && o.maxMinutes > 0, `--max-minutes: must be a positive number (got ${o.maxMinutes})`);
  if (o.topk !== undefined) positiveInt(o.topk, '--topk');
  if (o.retrievalMode !== undefined) check(RETRIEVAL_MODES.includes(o.retrievalMode), `--retrieval-mode: ${RETRIEVAL_MODES.join(', ')} (got ${o.retrievalMode})`);
  if (o.retrieval !== undefined) check(Number.isFinite(o.retrieval) && o.retrieval >= 0 && o.retrieval <= 1, `--retrieval: must be between 0 and 1 (got ${o.retrieval})`);
  if (o.seed !== undefined) positiveInt(o.seed, '--seed', 0);
  if (o.threads !== undefined) positiveInt(o.threads, '--threads');
  if (o.biasRate !== undefined) check(Number.isFinite(o.biasRate) && o.biasRate >= 0, `--bias-rate: must be ≥ 0 (got ${o.biasRate})`);
  if (o.dtype !== undefined) check(o.dtype === 'F32' || o.dtype === 'BF16', `--dtype: must be f32 or bf16 (got ${o.dtype})`);
}

function resolveSource(o: TrainStageOptions, seed: number): TrainSource {
  if (o.model !== undefined) return loadSource(o.model, { seed, needIndexer: o.stage !== 'pretrain', topk: o.topk });
  if (o.preset !== undefined) return freshSource(presetRaw(o.preset), seed, o.topk, `preset ${o.preset}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(o.config!, 'utf8'));
  } catch (e) {
    throw new Error(`--config: ${o.config} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`--config: ${o.config} is not a JSON object`);
  return freshSource(raw as Record<string, unknown>, seed, o.topk, o.config);
}

function tokenizerDir(o: TrainStageOptions): string {
  if (o.tokenizer !== undefined) return o.tokenizer;
  if (o.model !== undefined && existsSync(join(o.model, 'tokenizer.json'))) return o.model;
  return DEFAULT_TOKENIZER_DIR;
}

/** Writes the folder the engine loads: weights + config, tokenizer files, sampling defaults, log, curves. */
function writeModelFolder(out: string, src: TrainSource, o: TrainStageOptions, tokDir: string, log: TrainLog): void {
  mkdirSync(out, { recursive: true });
  saveCheckpoint(out, src.params, { dtype: o.dtype ?? 'F32' });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    const from = join(tokDir, f);
    if (existsSync(from) && resolve(from) !== resolve(join(out, f))) copyFileSync(from, join(out, f));
  }
  const genFrom = o.model !== undefined ? join(o.model, 'generation_config.json') : '';
  if (genFrom && existsSync(genFrom)) {
    if (resolve(genFrom) !== resolve(join(out, 'generation_config.json'))) copyFileSync(genFrom, join(out, 'generation_config.json'));
  } else {
    const gen = { bos_token_id: src.cfg.bosTokenId, eos_token_id: src.cfg.eosTokenId, do_sample: true, temperature: 0.8, top_p: 0.95 };
    writeFileSync(join(out, 'generation_config.json'), `${JSON.stringify(gen, null, 2)}\n`);
  }
  writeFileSync(join(out, LOG_FILE), `${JSON.stringify(log)}\n`);
  writeFileSync(join(out, CURVES_FILE), curvesSvg(log));
}

/** Trainer that keeps the last step's expert loads (the bias update receives them). */
class ObservedTrainer extends Trainer {
  lastLoads: Map<number, Int32Array> | null = null;

  constructor(model: TrainModel, opts: TrainerOptions) {
    super(model, opts);
  }

  override updateRouterBias(loads: Map<number, Int32Array>): void {
    this.lastLoads = loads;
    super.updateRouterBias(loads);
  }
}

/** max/mean tokens per routed expert over the worst MoE layer (1 = perfectly balanced). */
export function loadImbalance(loads: Map<number, Int32Array> | null): number | null {
  if (!loads || !loads.size) return null;
  let worst = 0;
  for (const load of loads.values()) {
    let sum = 0, max = 0;
    for (const v of load) { sum += v; if (v > max) max = v; }
    if (sum > 0) worst = Math.max(worst, max / (sum / load.length));
  }
  return worst;
}

export async function trainStage(o: TrainStageOptions): Promise<TrainStageResult> {
  validateOptions(o);
  const seed = o.seed ?? 1;
  const emit = o.onEvent ?? (() => {});
  const src = resolveSource(o, seed);
  const cfg = src.cfg;
  if (o.stage !== 'pretrain' && !cfg.indexer) throw new Error(`${o.stage}: the model has no indexer`);
  check(o.seq <= cfg.maxPositions, `--seq: ${o.seq} exceeds the model's max_position_embeddings (${cfg.maxPositions})`);

  const tokDir = tokenizerDir(o);
  check(existsSync(join(tokDir, 'tokenizer.json')), `--tokenizer: no tokenizer.json in ${tokDir}`);
  const tok = Tokenizer.fromDir(tokDir);
  check(tok.vocabSize <= cfg.vocabSize, `--tokenizer: its ${tok.vocabSize} ids do not fit the model's vocab_size ${cfg.vocabSize}`);
  const bos = cfg.bosTokenId;
  const progress = (done: number, total: number) => emit({ type: 'tokenize', done, total });
  // documents end with EOS so the model learns to stop
  const eos = cfg.eosTokenId;
  const stream = o.data !== undefined ? tokenizeFile(o.data, tok, bos, progress, eos) : tokenizeDocuments(splitDocuments(o.text!), tok, bos, progress, eos);
  const sampler = new WindowSampler(stream, o.seq, bos, seed + 1);
  const retrieval = o.retrieval ?? 0;
  const retrievalGen = retrieval > 0 ? new RetrievalWindows(tok, stream, o.seq, bos, eos, seed + 2, o.retrievalMode ?? 'mixed') : null;
  const mixRng = new Rng(seed + 3);
  const nextBatch = () => {
    const b = sampler.batch(o.batch);
    if (retrievalGen) mixRetrieval(b, o.batch, o.seq, retrievalGen, retrieval, mixRng);
    return b;
  };

  let wasm: WasmGemm | null = null;
  let gemmName = 'portable (JS)';
  if (o.wasm !== false) {
    try {
      wasm = await WasmGemm.create(o.threads !== undefined ? { threads: o.threads } : {});
      setGemm(wasm.gemm);
      gemmName = `wasm SIMD × ${wasm.threads} thread${wasm.threads > 1 ? 's' : ''}`;
    } catch (e) {
      src.notes.push(`wasm GEMM unavailable (${(e as Error).message.split('\n')[0]}); used the portable kernel`);
    }
  }
  try {
    const model = new TrainModel(cfg, src.params, o.seq);
    const lr = o.lr ?? DEFAULT_LR[o.stage];
    const warmup = o.warmup ?? Math.min(100, Math.floor(o.steps / 10));
    const schedule = { peak: lr, min: o.minLr ?? lr / 10, warmup, total: o.steps };
    const trainer = new ObservedTrainer(model, {
      mode: o.stage,
      schedule,
      weightDecay: o.weightDecay ?? 0.1,
      clip: o.clip ?? 1,
      biasUpdateRate: o.biasRate ?? 1e-3,
      ...(o.mtpWeight !== undefined ? { losses: { mtp: o.mtpWeight } } : {}),
    });
    const trainable = trainer.trainable.reduce((s, t) => s + t.size, 0);
    const options: Record<string, unknown> = {
      ...(o.config !== undefined ? { config: o.config } : {}), ...(o.preset !== undefined ? { preset: o.preset } : {}),
      ...(o.model !== undefined ? { model: o.model } : {}), ...(o.data !== undefined ? { data: o.data } : {}),
      tokenizer: tokDir, seq: o.seq, batch: o.batch, steps: o.steps, lr, min_lr: o.minLr ?? lr / 10, warmup, seed,
      max_minutes: o.maxMinutes ?? null, retrieval, retrieval_mode: retrieval > 0 ? (o.retrievalMode ?? 'mixed') : null, eos_between_documents: true, topk: cfg.indexer?.topk ?? null, bias_rate: o.biasRate ?? 1e-3, dtype: o.dtype ?? 'F32', gemm: gemmName,
    };
    const stageLog: StageLog = {
      stage: o.stage, started: new Date().toISOString(), origin: src.origin, notes: src.notes, options,
      params: model.params.count(), steps: 0, tokens: 0, wall_s: 0, stopped_by: 'steps', records: [],
    };
    const log: TrainLog = { stages: [...previousStages(o.model), stageLog] };
    emit({ type: 'start', stage: o.stage, params: stageLog.params, trainable, streamTokens: stream.length, origin: src.origin, notes: src.notes, gemm: gemmName });

    const t0 = performance.now();
    const budgetS = o.maxMinutes !== undefined ? o.maxMinutes * 60 : Infinity;
    let total = o.steps;
    for (let i = 0; i < total; i++) {
      const st = trainer.trainStep(nextBatch(), o.batch, o.seq);
      if (!Number.isFinite(st.loss)) throw new Error(`step ${st.step}: the loss is ${st.loss} (diverged; try a lower --lr)`);
      const rec: StepRecord = {
        step: st.step, loss: st.loss, lm: st.lm, mtp: st.mtp, indexer_kl: st.indexerKL, balance: st.balance,
        grad_norm: st.gradNorm, lr: st.lr, load_max_mean: o.stage === 'indexer-warmup' ? null : loadImbalance(trainer.lastLoads),
        tokens_per_s: st.tokens / (st.ms / 1000), elapsed_s: (performance.now() - t0) / 1000,
      };
      stageLog.records.push(rec);
      stageLog.steps = st.step;
      stageLog.tokens += st.tokens;
      stageLog.wall_s = rec.elapsed_s;
      if (Number.isFinite(budgetS)) {
        // project the steps the budget allows from the pace so far; the schedule decays toward them
        if (rec.elapsed_s >= budgetS) { total = st.step; stageLog.stopped_by = 'time'; }
        else if (st.step >= Math.min(10, warmup)) total = Math.min(o.steps, Math.max(st.step + 1, Math.floor((st.step * budgetS) / rec.elapsed_s)));
        schedule.total = total;
      }
      emit({ type: 'step', record: rec, total });
      if (o.saveEvery && st.step % o.saveEvery === 0 && st.step < total) {
        writeModelFolder(o.out, src, o, tokDir, log);
        emit({ type: 'save', step: st.step, dir: o.out });
      }
    }
    writeModelFolder(o.out, src, o, tokDir, log);
    emit({ type: 'save', step: stageLog.steps, dir: o.out });
    return { out: o.out, log: stageLog, model };
  } finally {
    if (wasm) {
      setGemm(gemmPortable);
      await wasm.close();
    }
  }
}
