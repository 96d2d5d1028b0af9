// A model as the server offers it: its id, the engine (continuous batching + context cache) and the
// tokenizer, plus the special-token ids the API needs.
import { Engine, type EngineOptions, modelFingerprint } from '../engine/engine.js';
import { PrefixCache } from '../engine/prefix-cache.js';
import type { SamplingParams } from '../engine/sampling.js';
import type { DeepSeekModel } from '../model/model.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

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
  /** MTP speculative decoding */
  speculative?: EngineOptions['speculative'];
  /** ids that end a generation by default (generation_config.json's eos_token_id) */
  stopTokens?: number[];
}

export function serveModel(model: DeepSeekModel, tokenizer: Tokenizer, opts: ServeModelOptions = {}): ServedModel {
  if (tokenizer.vocabSize > model.cfg.vocabSize) {
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} ids but the model only ${model.cfg.vocabSize}`);
  }
  const fingerprint = modelFingerprint(model);
  const prefixCache = new PrefixCache(fingerprint, { budgetBytes: opts.cacheBytes, dir: opts.cacheDir });
  const engine = new Engine(model, {
    tokenizer, prefixCache, maxBatch: opts.maxBatch, maxQueue: opts.maxQueue, defaults: opts.defaults, speculative: opts.speculative,
    stopTokens: opts.stopTokens,
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
