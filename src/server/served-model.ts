// A model as the server offers it: its id, the engine (continuous batching + context cache) and the
// tokenizer, plus the special-token ids the API needs. Loading reads generation_config.json for the
// sampling defaults, as DeepSeek's release recommends (temperature 1.0, top_p 0.95).
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Engine, modelFingerprint } from '../engine/engine.js';
import { PrefixCache } from '../engine/prefix-cache.js';
import type { SamplingParams } from '../engine/sampling.js';
import type { Backend } from '../kernels/backend.js';
import { DeepSeekModel } from '../model/model.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';

export interface SpecialIds {
  eos: number;
  thinkStart: number | undefined;
  thinkEnd: number | undefined;
  fimBegin: number | undefined;
  fimHole: number | undefined;
  fimEnd: number | undefined;
}

export interface ServedModel {
  id: string;
  engine: Engine;
  tokenizer: Tokenizer;
  /** fingerprint of the weights, also the API's system_fingerprint */
  fingerprint: string;
  /** positions the model can hold (prompt + output) */
  contextLength: number;
  special: SpecialIds;
  created: number;
}

export interface ServeModelOptions {
  id?: string;
  maxBatch?: number;
  maxQueue?: number;
  /** folder the context cache persists to (default: memory only) */
  cacheDir?: string;
  cacheBytes?: number;
  /** sampling defaults (e.g. from generation_config.json) */
  defaults?: Partial<SamplingParams>;
  speculative?: boolean;
}

export function serveModel(model: DeepSeekModel, tokenizer: Tokenizer, opts: ServeModelOptions = {}): ServedModel {
  if (tokenizer.vocabSize > model.cfg.vocabSize) {
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} ids but the model only ${model.cfg.vocabSize}`);
  }
  const fingerprint = modelFingerprint(model);
  const prefixCache = new PrefixCache(fingerprint, { budgetBytes: opts.cacheBytes, dir: opts.cacheDir });
  const engine = new Engine(model, {
    tokenizer, prefixCache, maxBatch: opts.maxBatch, maxQueue: opts.maxQueue, defaults: opts.defaults, speculative: opts.speculative,
  });
  const id = (s: string) => tokenizer.tokenToId(s);
  return {
    id: opts.id ?? 'dsv32',
    engine,
    tokenizer,
    fingerprint,
    contextLength: model.cfg.maxPositions,
    special: {
      eos: model.cfg.eosTokenId,
      thinkStart: id('<think>'),
      thinkEnd: id('</think>'),
      fimBegin: id('<｜fim▁begin｜>'),
      fimHole: id('<｜fim▁hole｜>'),
      fimEnd: id('<｜fim▁end｜>'),
    },
    created: Math.floor(Date.now() / 1000),
  };
}

/** temperature / top_p from a model folder's generation_config.json, when present. */
export function generationDefaults(dir: string): Partial<SamplingParams> {
  const p = join(dir, 'generation_config.json');
  if (!existsSync(p)) return {};
  const g = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  const out: Partial<SamplingParams> = {};
  if (typeof g.temperature === 'number') out.temperature = g.do_sample === false ? 0 : g.temperature;
  if (typeof g.top_p === 'number') out.topP = g.top_p;
  if (typeof g.top_k === 'number') out.topK = g.top_k;
  return out;
}

export interface LoadServedOptions extends ServeModelOptions {
  backend?: Backend;
  /** tokenizer folder when the model folder has no tokenizer.json */
  fallbackTokenizerDir?: string;
}

/** Loads a checkpoint folder (config.json + safetensors [+ tokenizer.json, generation_config.json]). */
export function loadServedModel(dir: string, opts: LoadServedOptions = {}): ServedModel {
  const abs = resolve(dir);
  if (!existsSync(join(abs, 'config.json'))) throw new Error(`${dir} is not a model folder (no config.json)`);
  const tokDir = existsSync(join(abs, 'tokenizer.json')) ? abs : opts.fallbackTokenizerDir;
  if (!tokDir) throw new Error(`${dir} has no tokenizer.json`);
  const tokenizer = Tokenizer.fromDir(tokDir);
  const model = DeepSeekModel.load(abs, { backend: opts.backend });
  return serveModel(model, tokenizer, { ...opts, id: opts.id ?? basename(abs), defaults: { ...generationDefaults(abs), ...opts.defaults } });
}
