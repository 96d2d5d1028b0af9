// Per-sequence caches: for every layer the MLA latent (FP8 codes + per-128 scales, as the reference's
// KV round trip leaves it), the RoPE'd shared key, and the lightning indexer's FP8 keys + per-token scale.
// Storage grows by doubling; `length` is the number of positions filled.
import type { LayerCacheView } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';

/** Rows row..row+S-1 of a batched activation belong to one sequence, at positions P..P+S-1 of its cache. */
export interface Segment {
  row: number;
  S: number;
  P: number;
  cache: LayerCache;
}

export class LayerCache implements LayerCacheView {
  latentCodes = new Uint8Array(0);
  latentScales = new Float32Array(0);
  latentF32 = new Float32Array(0);
  pe = new Float32Array(0);
  indexCodes = new Uint8Array(0);
  indexScales = new Float32Array(0);
  capacity = 0;

  constructor(
    readonly rank: number,
    readonly ropeDim: number,
    readonly latentFp8: boolean,
    readonly indexDim: number,
  ) {}

  ensure(positions: number): void {
    if (positions <= this.capacity) return;
    let cap = Math.max(16, this.capacity);
    while (cap < positions) cap *= 2;
    const grow = <T extends Uint8Array | Float32Array>(old: T, per: number, make: (n: number) => T): T => {
      const n = make(cap * per);
      n.set(old.subarray(0, this.capacity * per));
      return n;
    };
    if (this.latentFp8) {
      this.latentCodes = grow(this.latentCodes, this.rank, (n) => new Uint8Array(n));
      this.latentScales = grow(this.latentScales, this.rank / 128, (n) => new Float32Array(n));
    } else {
      this.latentF32 = grow(this.latentF32, this.rank, (n) => new Float32Array(n));
    }
    this.pe = grow(this.pe, this.ropeDim, (n) => new Float32Array(n));
    if (this.indexDim) {
      this.indexCodes = grow(this.indexCodes, this.indexDim, (n) => new Uint8Array(n));
      this.indexScales = grow(this.indexScales, 1, (n) => new Float32Array(n));
    }
    this.capacity = cap;
  }

  /** Bytes used per cached position (what the formats cost, not the slack of doubling). */
  bytesPerToken(): number {
    const latent = this.latentFp8 ? this.rank + (this.rank / 128) * 4 : this.rank * 4;
    return latent + this.ropeDim * 4 + (this.indexDim ? this.indexDim + 4 : 0);
  }

  /** Copies positions [0, n) of another cache into this one. */
  copyFrom(src: LayerCache, n: number): void {
    this.ensure(n);
    if (this.latentFp8) {
      this.latentCodes.set(src.latentCodes.subarray(0, n * this.rank));
      this.latentScales.set(src.latentScales.subarray(0, (n * this.rank) / 128));
    } else {
      this.latentF32.set(src.latentF32.subarray(0, n * this.rank));
    }
    this.pe.set(src.pe.subarray(0, n * this.ropeDim));
    if (this.indexDim) {
      this.indexCodes.set(src.indexCodes.subarray(0, n * this.indexDim));
      this.indexScales.set(src.indexScales.subarray(0, n));
    }
  }
}

export class ModelCache {
  readonly layers: LayerCache[];
  /** caches of the MTP layers (same absolute positions as the main stack) */
  readonly mtp: LayerCache[];
  /** positions filled in the main stack */
  length = 0;

  constructor(cfg: ModelConfig) {
    const make = () => new LayerCache(cfg.kvLoraRank, cfg.qkRopeHeadDim, cfg.indexer !== null, cfg.indexer?.headDim ?? 0);
    this.layers = Array.from({ length: cfg.numLayers }, make);
    this.mtp = Array.from({ length: cfg.numMtpLayers }, make);
  }

  /** Forgets everything after position n (e.g. rejected speculative tokens); storage is kept. */
  truncate(n: number): void {
    if (n < 0 || n > this.length) throw new Error(`cannot truncate a cache of ${this.length} positions to ${n}`);
    this.length = n;
  }

  bytesPerToken(): number {
    return this.layers.reduce((a, l) => a + l.bytesPerToken(), 0);
  }
}
