// dsv32 eval: held-out perplexity and passkey retrieval with the inference engine, dense attention vs
// DeepSeek Sparse Attention side by side (train/eval.ts does the work).
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { DEFAULT_EVAL_MODEL, type EvalReport, evaluate } from '../../train/eval.js';

interface EvalFlags {
  model?: string;
  data?: string;
  seq?: string;
  maxTokens?: string;
  trials?: string;
  quick?: boolean;
  json?: boolean;
  backend: string;
  seed: string;
}

function int(s: string | undefined, flag: string, min: number): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\s*\d+\s*$/.test(s) || Number(s) < min) throw new Error(`${flag}: must be an integer ≥ ${min} (got "${s}")`);
  return Number(s);
}

/** The human-readable report. */
export function formatReport(r: EvalReport): string {
  const m = r.meta;
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const lines = [
    `model ${m.model}: index_topk ${m.index_topk ?? '— (no indexer)'}, chunks of ${m.seq} tokens`,
    '',
    `held-out perplexity (${m.tokens_scored.toLocaleString('en-US')} tokens in ${m.chunks} chunks)`,
    `  dense   ${r.perplexity.dense.toFixed(3)}`,
    `  sparse  ${r.perplexity.sparse.toFixed(3)}  (${m.sparse_vs_dense_ppl >= 0 ? '+' : ''}${(100 * m.sparse_vs_dense_ppl).toFixed(2)}% vs dense)`,
    '',
    'perplexity by context length (same text in longer chunks; trained at the first)',
    '  context     dense    sparse',
    ...r.perplexity_by_ctx.map((p) => `  ${String(p.ctx).padStart(7)}  ${p.dense.toFixed(2).padStart(8)}  ${p.sparse.toFixed(2).padStart(8)}`),
    '',
    `passkey retrieval (${m.trials} trials per length): greedy answer contains the 5-digit key | key out-scores 9 decoys (chance 10%)`,
    '  context   dense   sparse |  dense   sparse',
    ...r.needle.map((n) => `  ${String(n.ctx).padStart(7)}   ${pct(n.dense_acc).padStart(5)}   ${pct(n.sparse_acc).padStart(6)} | ${pct(n.dense_rank).padStart(6)}   ${pct(n.sparse_rank).padStart(6)}`),
    '',
    `copying: a ${r.copying.span}-token held-out span repeated to ${m.seq} tokens, loss (nats) on its first occurrence → on the repeats`,
    `  dense   ${r.copying.dense.first.toFixed(2)} → ${r.copying.dense.repeats.toFixed(2)}`,
    `  sparse  ${r.copying.sparse.first.toFixed(2)} → ${r.copying.sparse.repeats.toFixed(2)}`,
    '',
    `${m.seconds.toFixed(1)} s`,
  ];
  return lines.join('\n');
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('held-out perplexity and passkey retrieval at 1×/2×/4× the training length, dense vs sparse attention (inference engine)')
    .option('--model <dir>', 'model folder (default: the bundled models/dsv32-tiny)')
    .option('--data <file>', 'held-out text (default: data/corpus/heldout.txt of this package)')
    .option('--seq <n>', 'chunk length and needle unit (default: the training --seq from train_log.json, else 256)')
    .option('--max-tokens <n>', 'held-out tokens to score at most (default: all; --quick: 4096)')
    .option('--trials <n>', 'passkey trials per context length (default 20; --quick: 6)')
    .option('--quick', 'a small sample that finishes in under a minute')
    .option('--json', 'print {"perplexity": {"dense", "sparse"}, "needle": [{"ctx", "dense_acc", "sparse_acc", "dense_rank", "sparse_rank"}], "perplexity_by_ctx", "copying", "meta"}')
    .option('--backend <name>', 'wasm | portable', 'wasm')
    .option('--seed <n>', 'seed of the passkeys and their depths', '7')
    .action(async (f: EvalFlags) => {
      if (f.backend !== 'wasm' && f.backend !== 'portable') throw new Error(`--backend: must be wasm or portable (got "${f.backend}")`);
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar({ format: '{what} {bar} {value}/{total}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
        : null;
      let phase = '';
      const report = await evaluate({
        model: f.model ?? DEFAULT_EVAL_MODEL, data: f.data, seq: int(f.seq, '--seq', 2), maxTokens: int(f.maxTokens, '--max-tokens', 1),
        trials: int(f.trials, '--trials', 1), quick: f.quick, backend: f.backend, seed: int(f.seed, '--seed', 0),
        onProgress: (what, done, total) => {
          if (!bar) return;
          if (what !== phase) { if (phase) bar.stop(); bar.start(total, 0, { what }); phase = what; }
          bar.update(done, { what });
        },
      });
      bar?.stop();
      process.stdout.write(`${f.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
    });
}
