// The DeepSeek-V3.2 transformer (spec §2): embedding → layers (MLA+DSA, dense MLP or MoE) → final
// RMSNorm → lm_head in fp32. Forward runs any number of new tokens from any start position over an
// existing cache (chunked prefill, speculative verification, one-token decode alike).
import { Checkpoint } from '../formats/checkpoint.js';
import type { Backend, Linear } from '../kernels/backend.js';
import { PortableBackend } from '../kernels/portable.js';
import { Block, type ForwardHooks } from './block.js';
import { ModelCache } from './cache.js';
import { loadConfig, type ModelConfig } from './config.js';
import { Embedding } from './embedding.js';
import type { AttentionPath } from './mla.js';
import { MTPLayer } from './mtp.js';
import { Rope } from './rope.js';
import { type TensorSource, WeightLoader } from './weights.js';
import { Workspace } from './workspace.js';

export interface LoadOptions {
  backend?: Backend;
  /** load the MTP layers when the checkpoint has them (default true) */
  mtp?: boolean;
  /** called as tensors are read: (tensors done, tensors in the checkpoint) */
  onProgress?: (done: number, total: number) => void;
}

export interface ForwardOptions {
  /** which rows get logits: the last new token (default), all new tokens, or none */
  logits?: 'last' | 'all' | 'none';
  path?: AttentionPath;
  hooks?: ForwardHooks;
  /**
   * Return views of the model's scratch buffers instead of fresh arrays: no allocation per token, but the
   * results are only valid until the next forward (the engine uses them at once).
   */
  reuseOutputs?: boolean;
}

export interface ForwardResult {
  /** [rows, vocab] */
  logits: Float32Array;
  /** final-norm hidden states of the new tokens [S, hidden] (what feeds lm_head and the MTP layer) */
  hidden: Float32Array;
}

export class DeepSeekModel {
  readonly rope: Rope;
  readonly embed: Embedding;
  readonly layers: Block[];
  readonly norm: Float32Array;
  readonly head: Linear;
  readonly mtp: MTPLayer[];
  /** tensors of the checkpoint the model did not use (reported by `inspect`) */
  readonly unused: string[];
  /** scratch buffers shared by all layers: forwards run one at a time */
  private readonly ws = new Workspace();

  constructor(readonly cfg: ModelConfig, src: TensorSource & { names?(): string[] }, readonly backend: Backend,
    opts: Omit<LoadOptions, 'backend'> = {}) {
    const total = src.names ? src.names().length : 0;
    const ld = new WeightLoader(src, backend, cfg, opts.onProgress ? (n) => opts.onProgress!(n, total) : undefined);
    const ws = this.ws;
    this.rope = new Rope(cfg.qkRopeHeadDim, cfg.ropeTheta, cfg.ropeScaling);
    this.embed = new Embedding(ld.raw('model.embed_tokens.weight', [cfg.vocabSize, cfg.hiddenSize]));
    this.layers = Array.from({ length: cfg.numLayers }, (_, l) => new Block(ld, l, cfg, this.rope, ws));
    this.norm = ld.vector('model.norm.weight', cfg.hiddenSize);
    this.head = cfg.tieWordEmbeddings && !src.has('lm_head.weight')
      ? backend.linear('lm_head.weight', this.embed.table, undefined, false)
      : ld.linearF32('lm_head', cfg.vocabSize, cfg.hiddenSize);
    const wantMtp = (opts.mtp ?? true) && cfg.numMtpLayers > 0 && src.has(`model.layers.${cfg.numLayers}.eh_proj.weight`);
    this.mtp = wantMtp ? Array.from({ length: cfg.numMtpLayers }, (_, i) => new MTPLayer(ld, i, cfg, this.rope, this.embed, this.head, ws)) : [];
    this.unused = src.names ? src.names().filter((n) => !ld.used.has(n)) : [];
  }

  static load(dir: string, opts: LoadOptions = {}): DeepSeekModel {
    const cfg = loadConfig(dir);
    const ck = Checkpoint.open(dir);
    try {
      return new DeepSeekModel(cfg, ck, opts.backend ?? new PortableBackend(), opts);
    } finally {
      ck.close(); // every tensor has been read into memory by now
    }
  }

  newCache(): ModelCache {
    return new ModelCache(this.cfg, this.backend.cacheAllocator);
  }

  /**
   * Runs tokens at positions startPos.. over `cache` (which must hold exactly startPos positions, or more:
   * then it is cut back to startPos first, e.g. after rejected drafts).
   */
  forward(tokens: ArrayLike<number>, startPos: number, cache: ModelCache, opts: ForwardOptions = {}): ForwardResult {
    return this.forwardBatch([{ tokens, startPos, cache }], opts)[0]!;
  }

  /**
   * One forward over several sequences at once (continuous batching): projections, norms and experts run
   * over all rows together; attention runs per sequence over its own cache.
   */
  forwardBatch(items: readonly BatchItem[], opts: ForwardOptions = {}): ForwardResult[] {
    if (!items.length) return [];
    const D = this.cfg.hiddenSize;
    let N = 0;
    for (const it of items) {
      const S = it.tokens.length;
      if (S === 0) throw new RangeError('forward needs at least one token');
      if (!Number.isInteger(it.startPos) || it.startPos < 0) throw new RangeError(`start position ${it.startPos} is not a non-negative integer`);
      if (it.startPos > it.cache.length) throw new RangeError(`start position ${it.startPos} is past the ${it.cache.length} cached positions`);
      if (it.startPos + S > this.cfg.maxPositions) {
        throw new RangeError(`context of ${it.startPos + S} tokens exceeds max_position_embeddings (${this.cfg.maxPositions})`);
      }
      N += S;
    }
    if (items.length > 1 && new Set(items.map((i) => i.cache)).size !== items.length) throw new Error('each batch item needs its own cache');
    const ws = this.ws;
    const tokens = ws.i32('model.tokens', N);
    let row = 0;
    const rows: number[] = [];
    for (const it of items) {
      rows.push(row);
      for (let i = 0; i < it.tokens.length; i++) tokens[row + i] = it.tokens[i]!;
      row += it.tokens.length;
    }
    const h = this.embed.lookup(tokens, ws.f32('model.h', N * D)); // validates ids before any cache is touched
    for (const it of items) if (it.startPos < it.cache.length) it.cache.truncate(it.startPos);
    const be = this.backend;
    const path = opts.path ?? 'auto';
    const segs = items.map((it, i) => ({ row: rows[i]!, S: it.tokens.length, P: it.startPos, cache: it.cache.layers[0]! }));
    for (let l = 0; l < this.layers.length; l++) {
      for (let i = 0; i < items.length; i++) segs[i]!.cache = items[i]!.cache.layers[l]!;
      this.layers[l]!.forward(be, h, N, segs, path, opts.hooks);
    }
    for (const it of items) it.cache.length = it.startPos + it.tokens.length;
    const hidden = be.rmsNorm(h, N, D, this.norm, this.cfg.rmsNormEps, ws.f32('model.hidden', N * D));
    const V = this.cfg.vocabSize;
    const whichOf = (it: BatchItem) => it.logits ?? opts.logits ?? 'last';
    // one head matmul over every row that needs logits
    const want: number[] = [];
    items.forEach((it, i) => {
      const which = whichOf(it);
      if (which === 'all') for (let s = 0; s < it.tokens.length; s++) want.push(rows[i]! + s);
      else if (which === 'last') want.push(rows[i]! + it.tokens.length - 1);
    });
    let allLogits: Float32Array = ws.f32('model.logits', 0);
    if (want.length) {
      const x = want.length === N ? hidden : ws.f32('model.headin', want.length * D);
      if (x !== hidden) want.forEach((r, j) => x.set(hidden.subarray(r * D, (r + 1) * D), j * D));
      allLogits = be.matmul(x, want.length, this.head, ws.f32('model.logits', want.length * V));
    }
    const take = (a: Float32Array, from: number, to: number) => (opts.reuseOutputs ? a.subarray(from, to) : a.slice(from, to));
    let j = 0;
    return items.map((it, i) => {
      const which = whichOf(it);
      const n = which === 'all' ? it.tokens.length : which === 'last' ? 1 : 0;
      const logits = take(allLogits, j * V, (j + n) * V);
      j += n;
      return { logits, hidden: take(hidden, rows[i]! * D, (rows[i]! + it.tokens.length) * D) };
    });
  }
}

export interface BatchItem {
  tokens: ArrayLike<number>;
  startPos: number;
  cache: ModelCache;
  /** overrides ForwardOptions.logits for this item */
  logits?: 'last' | 'all' | 'none';
}
