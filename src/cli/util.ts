// Shared CLI helpers: argument parsing and model loading with a progress bar on a terminal.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { type BackendName, loadRuntime, type Runtime } from '../runtime/runtime.js';

export function parseIdList(s: string, flag: string): number[] {
  const parts = s.split(/[\s,]+/).filter(Boolean);
  if (!parts.length) throw new Error(`${flag}: no token ids given`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: "${p}" is not a non-negative integer token id`);
    return n;
  });
}

export function parseNumber(s: string | undefined, flag: string, opts: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.min !== undefined ? `≥ ${opts.min}` : '', opts.max !== undefined ? `≤ ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new Error(`${flag} must be ${opts.int ? 'an integer' : 'a number'}${range ? ` ${range}` : ''} (got "${s}")`);
  }
  return n;
}

export interface ModelFlags {
  model?: string;
  backend?: string;
  weights?: string;
  threads?: string;
}

/** --model/--backend/--weights/--threads, shared by every command that runs a model. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'model folder (default: the bundled models/dsv32-tiny)')
    .option('--backend <name>', 'kernels: wasm (SIMD, both cores) or portable (reference TypeScript)', 'wasm')
    .option('--weights <fmt>', 'wasm weight format: native (as stored, exact) or q8 (int8 repack, faster)', 'native')
    .option('--threads <n>', 'wasm threads (default: up to 2)');
}

export async function loadForCli(flags: ModelFlags): Promise<Runtime> {
  if (flags.backend && !['wasm', 'portable'].includes(flags.backend)) throw new Error(`--backend must be wasm or portable (got "${flags.backend}")`);
  if (flags.weights && !['native', 'q8'].includes(flags.weights)) throw new Error(`--weights must be native or q8 (got "${flags.weights}")`);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'loading {bar} {percentage}% | {value}/{total} tensors', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : null;
  let started = false;
  try {
    return await loadRuntime(flags.model, {
      backend: (flags.backend ?? 'wasm') as BackendName,
      weights: (flags.weights ?? 'native') as 'native' | 'q8',
      threads: parseNumber(flags.threads, '--threads', { min: 1, max: 64, int: true }),
      onProgress: (done, total) => {
        if (!bar) return;
        if (!started) { bar.start(total, 0); started = true; }
        bar.update(done);
      },
    });
  } finally {
    bar?.stop();
  }
}
