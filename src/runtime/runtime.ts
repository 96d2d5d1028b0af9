// Everything a command or the server needs to run a model folder: weights on a backend, the tokenizer
// that belongs to them, sampling defaults from generation_config.json, and the context cache.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelFingerprint } from '../engine/engine.js';
import { PrefixCache } from '../engine/prefix-cache.js';
import type { SamplingParams } from '../engine/sampling.js';
import type { Backend } from '../kernels/backend.js';
import { PortableBackend } from '../kernels/portable.js';
import { WasmBackend } from '../kernels/wasm/backend.js';
import { DeepSeekModel } from '../model/model.js';
import { deepseekV32 } from '../tokenizer/deepseek.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';

/** The package root (works from src/ under tsx and from dist/). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The bundled default model. */
export const DEFAULT_MODEL_DIR = join(packageRoot, 'models', 'dsv32-tiny');

export function resolveModelDir(dir?: string): string {
  const d = dir ?? DEFAULT_MODEL_DIR;
  if (!existsSync(join(d, 'config.json'))) {
    throw new Error(dir ? `${d}: no config.json (not a model folder)` : `the bundled default model is missing at ${d}; pass --model DIR`);
  }
  return d;
}

export type BackendName = 'wasm' | 'portable';

export interface RuntimeOptions {
  backend?: BackendName;
  /** wasm weight format: as stored (exact) or repacked to int8 blocks (faster, ~0.5% error) */
  weights?: 'native' | 'q8';
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function createBackend(opts: RuntimeOptions = {}): Promise<Backend> {
  if ((opts.backend ?? 'wasm') === 'portable') return new PortableBackend();
  return WasmBackend.create({ weights: opts.weights ?? 'native', ...(opts.threads ? { threads: opts.threads } : {}) });
}

/** The tokenizer shipped with the model, or DeepSeek-V3.2's own for full-size V3.2 vocabularies. */
export function tokenizerFor(dir: string, vocabSize: number): Tokenizer | null {
  if (existsSync(join(dir, 'tokenizer.json'))) return Tokenizer.fromDir(dir);
  if (vocabSize === 129280) return deepseekV32();
  return null;
}

/** temperature / top_p defaults of generation_config.json (V3.2: 1.0 / 0.95). */
export function generationDefaults(dir: string): Partial<SamplingParams> {
  const p = join(dir, 'generation_config.json');
  if (!existsSync(p)) return {};
  try {
    const g = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    const out: Partial<SamplingParams> = {};
    if (typeof g.temperature === 'number') out.temperature = g.do_sample === false ? 0 : g.temperature;
    if (typeof g.top_p === 'number') out.topP = g.top_p;
    if (typeof g.top_k === 'number') out.topK = g.top_k;
    return out;
  } catch (e) {
    throw new Error(`${p}: not valid JSON (${(e as Error).message})`);
  }
}

/** End-of-sequence ids of generation_config.json (`eos_token_id`, one id or a list), if it names any. */
export function generationStopTokens(dir: string): number[] | undefined {
  const p = join(dir, 'generation_config.json');
  if (!existsSync(p)) return undefined;
  const g = JSON.parse(readFileSync(p, 'utf8')) as { eos_token_id?: unknown };
  const ids = Array.isArray(g.eos_token_id) ? g.eos_token_id : g.eos_token_id === undefined ? [] : [g.eos_token_id];
  const ok = ids.filter((x): x is number => Number.isInteger(x) && (x as number) >= 0);
  return ok.length ? ok : undefined;
}

export interface Runtime {
  dir: string;
  model: DeepSeekModel;
  tokenizer: Tokenizer | null;
  defaults: Partial<SamplingParams>;
  /** generation ends at these ids unless a request says otherwise */
  stopTokens: number[] | undefined;
  close(): Promise<void>;
}

export async function loadRuntime(dir: string | undefined, opts: RuntimeOptions = {}): Promise<Runtime> {
  const d = resolveModelDir(dir);
  const backend = await createBackend(opts);
  const model = DeepSeekModel.load(d, { backend, onProgress: opts.onProgress });
  return {
    dir: d,
    model,
    tokenizer: tokenizerFor(d, model.cfg.vocabSize),
    defaults: generationDefaults(d),
    stopTokens: generationStopTokens(d),
    close: async () => { if (backend instanceof WasmBackend) await backend.close(); },
  };
}

export function prefixCacheFor(model: DeepSeekModel, opts: { dir?: string; budgetBytes?: number } = {}): PrefixCache {
  return new PrefixCache(modelFingerprint(model), opts);
}
