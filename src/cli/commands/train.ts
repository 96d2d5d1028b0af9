// dsv32 train pretrain|indexer-warmup|sparse: the DeepSeek-V3.2 training recipe (spec §14) on text.
// The work is in train/pipeline.ts; this file parses flags and draws the progress bar (tokens/s, loss,
// expert-load balance as max/mean tokens per expert).
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { DEFAULT_LR, type TrainEvent, type TrainStageOptions, trainStage } from '../../train/pipeline.js';
import type { TrainMode } from '../../train/params.js';

export interface TrainCliFlags {
  config?: string;
  preset?: string;
  model?: string;
  data?: string;
  tokenizer?: string;
  seq: string;
  batch: string;
  steps: string;
  lr?: string;
  minLr?: string;
  warmup?: string;
  out?: string;
  seed: string;
  saveEvery: string;
  maxMinutes?: string;
  topk?: string;
  dtype: string;
  threads?: string;
  wasm: boolean;
  mtpWeight?: string;
  biasRate?: string;
  retrieval?: string;
  retrievalMode?: string;
  quiet?: boolean;
}

function int(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(s)) throw new Error(`${flag}: "${s}" is not a non-negative integer`);
  return Number(s);
}

function num(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new Error(`${flag}: "${s}" is not a number`);
  return v;
}

/** Flags → pipeline options (pipeline.validateOptions checks ranges and combinations). */
export function trainOptions(stage: TrainMode, f: TrainCliFlags): TrainStageOptions {
  if (!f.out) throw new Error('--out: give the output folder (the model is written there)');
  const dtype = f.dtype.toUpperCase();
  if (dtype !== 'F32' && dtype !== 'BF16') throw new Error(`--dtype: must be f32 or bf16 (got "${f.dtype}")`);
  const o: TrainStageOptions = {
    stage,
    config: f.config, preset: f.preset, model: f.model, data: f.data, tokenizer: f.tokenizer,
    seq: int(f.seq, '--seq')!, batch: int(f.batch, '--batch')!, steps: int(f.steps, '--steps')!,
    lr: num(f.lr, '--lr'), minLr: num(f.minLr, '--min-lr'), warmup: int(f.warmup, '--warmup'),
    out: f.out, seed: int(f.seed, '--seed'), saveEvery: int(f.saveEvery, '--save-every'), maxMinutes: num(f.maxMinutes, '--max-minutes'), topk: int(f.topk, '--topk'),
    dtype, threads: int(f.threads, '--threads'), wasm: f.wasm, mtpWeight: num(f.mtpWeight, '--mtp-weight'),
    biasRate: num(f.biasRate, '--bias-rate'), retrieval: num(f.retrieval, '--retrieval'),
    retrievalMode: f.retrievalMode as TrainStageOptions['retrievalMode'],
  };
  if (o.data === undefined) throw new Error('--data: give the training text file');
  return o;
}

const fmt = (v: number | null, d = 3) => (v === null ? '-' : v.toFixed(d));

/** Progress on stderr: a bar on a terminal, a line every ~5% otherwise (logs stay readable). */
export function progressReporter(quiet = false): (e: TrainEvent) => void {
  const tty = process.stderr.isTTY && !quiet;
  let bar: cliProgress.SingleBar | null = null;
  let tokBar: cliProgress.SingleBar | null = null;
  const recent: number[] = [];
  const say = (s: string) => { if (!quiet) process.stderr.write(`${s}\n`); };
  return (e) => {
    if (e.type === 'tokenize') {
      if (!tty) return;
      if (!tokBar) {
        tokBar = new cliProgress.SingleBar({ format: 'tokenising {bar} {percentage}%', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic);
        tokBar.start(e.total, 0);
      }
      tokBar.update(e.done);
      if (e.done >= e.total) { tokBar.stop(); }
      return;
    }
    if (e.type === 'start') {
      tokBar?.stop();
      say(`${e.stage}: ${(e.params / 1e6).toFixed(2)}M parameters (${(e.trainable / 1e6).toFixed(2)}M trained) from ${e.origin}; ${e.streamTokens.toLocaleString('en-US')} data tokens; GEMM ${e.gemm}`);
      for (const n of e.notes) say(`  note: ${n}`);
      return;
    }
    if (e.type === 'save') {
      if (!tty) say(`saved ${e.dir} at step ${e.step}`);
      return;
    }
    const r = e.record;
    recent.push(r.tokens_per_s);
    if (recent.length > 20) recent.shift();
    const tps = recent.reduce((a, b) => a + b, 0) / recent.length;
    const main = r.lm !== null ? `loss ${fmt(r.lm)}` : `KL ${fmt(r.indexer_kl, 4)}`;
    const extra = r.lm !== null && r.indexer_kl !== null ? ` KL ${fmt(r.indexer_kl, 4)}` : '';
    const payload = { loss: main + extra, tps: tps.toFixed(0), load: fmt(r.load_max_mean, 2), lr: r.lr.toExponential(1) };
    if (tty) {
      if (!bar) {
        bar = new cliProgress.SingleBar({
          format: 'train {bar} {value}/{total} | {loss} | {tps} tok/s | expert load max/mean {load} | lr {lr} | eta {eta_formatted}',
          stream: process.stderr, etaBuffer: 20,
        }, cliProgress.Presets.shades_classic);
        bar.start(e.total, 0, payload);
      }
      if (bar.getTotal() !== e.total) bar.setTotal(e.total);
      bar.update(r.step, payload);
      if (r.step >= e.total) bar.stop();
    } else if (r.step === 1 || r.step === e.total || r.step % 20 === 0) {
      say(`step ${r.step}/${e.total} | ${payload.loss} | ${payload.tps} tok/s | expert load max/mean ${payload.load} | lr ${payload.lr} | ${r.elapsed_s.toFixed(0)} s`);
    }
  };
}

function stageCommand(parent: Command, stage: TrainMode, what: string): void {
  parent
    .command(stage)
    .description(what)
    .option('--config <file>', 'config.json of a new model (pretrain from scratch)')
    .option('--preset <name>', 'a built-in config: tiny | small (pretrain from scratch)')
    .option('--model <dir>', 'continue from / convert a deepseek_v3 or deepseek_v32 checkpoint folder')
    .option('--data <file>', 'training text (paragraphs per line, blank line between documents)')
    .option('--tokenizer <dir>', "tokenizer folder (default: the model's own, else this package's data/tokenizer)")
    .option('--seq <n>', 'tokens per sequence', '256')
    .option('--batch <n>', 'sequences per step', '4')
    .option('--steps <n>', 'optimizer steps', '1000')
    .option('--lr <x>', `peak learning rate (default ${DEFAULT_LR[stage]})`)
    .option('--min-lr <x>', 'final learning rate of the cosine decay (default lr/10)')
    .option('--warmup <n>', 'linear LR warm-up steps (default min(100, steps/10))')
    .option('--out <dir>', 'output model folder (safetensors, config, tokenizer, generation config, train_log.json, loss.svg)')
    .option('--seed <n>', 'seed of the initialisation and the data order', '1')
    .option('--max-minutes <m>', 'wall-clock budget: stop when spent; the LR schedule follows the projected step count (shared machines)')
    .option('--save-every <n>', 'also write the folder every N steps (0 = only at the end)', '0')
    .option('--retrieval <f>', 'share of windows replaced by passkey-style retrieval windows (0–1, default 0)')
    .option('--retrieval-mode <m>', "single (one key per window) | mixed (half the windows pack short episodes; default) | copy (a third each: single keys, episodes, repeated random spans) | induction (half repeated spans of 2–64 tokens, a quarter each single keys and episodes) | drills (repeated spans only, 2 to half the window: a copy warm-up on short windows) | recall (half associative-recall drills: word + connector → digit-value pairs asked again in random order, a quarter each single keys and episodes) | recall-drills (recall drills only) | recall-open (as recall, drills over any corpus tokens)")
    .option('--topk <k>', 'index_topk: keys each query attends to under DSA (written to the config)')
    .option('--dtype <t>', 'weights written as f32 | bf16', 'f32')
    .option('--threads <n>', 'GEMM threads (default: min(2, cores))')
    .option('--no-wasm', 'use the portable JS GEMM instead of the WebAssembly SIMD one')
    .option('--mtp-weight <x>', 'weight of the MTP loss (default 0.3)')
    .option('--bias-rate <x>', 'γ of the aux-loss-free expert-bias update per step (default 0.001)')
    .option('--quiet', 'no progress output')
    .action(async (f: TrainCliFlags) => {
      const opts = trainOptions(stage, f);
      const t0 = performance.now();
      const res = await trainStage({ ...opts, onEvent: progressReporter(f.quiet) });
      const last = res.log.records[res.log.records.length - 1]!;
      if (!f.quiet) {
        process.stderr.write(`${stage}: ${res.log.steps} steps, ${res.log.tokens.toLocaleString('en-US')} tokens in ${((performance.now() - t0) / 1000).toFixed(0)} s; ` +
          `final ${last.lm !== null ? `LM loss ${last.lm.toFixed(3)}` : `indexer KL ${fmt(last.indexer_kl, 4)}`}; wrote ${res.out}\n`);
      }
    });
}

export function registerTrain(program: Command): void {
  const train = program
    .command('train')
    .description('train a DeepSeek-V3.2 model: pretrain (dense attention) → indexer-warmup (indexer only, KL to dense attention) → sparse (top-k DSA)');
  stageCommand(train, 'pretrain', 'train all weights with dense attention (the indexer is not run); from --config/--preset or continue --model');
  stageCommand(train, 'indexer-warmup', 'dense warm-up: freeze the model, train only the lightning indexer toward the dense attention distribution (converts deepseek_v3 checkpoints)');
  stageCommand(train, 'sparse', 'sparse training: each query attends to its indexer top-k; LM loss trains the model, KL on the selected set trains the indexer');
}
