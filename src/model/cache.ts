// Per-sequence caches: for every layer the MLA latent (FP8 codes + per-128 scales, as the reference's
// KV round trip leaves it), the RoPE'd shared key, and the lightning indexer's FP8 keys + per-token scale.
// Storage grows by doubling; `length` is the number of positions filled.
import { type CacheAllocator, heapAllocator, type LayerCacheView } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';

/** Rows row..row+S-1 of a batched activation belong to one sequence, at positions P..P+S-1 of its cache. */
export interface Segment {
  row: number;
  S: number;
  P: number;
  cache: LayerCache;
}

export class LayerCache implements LayerCacheView {
  latentCodes: Uint8Array = new Uint8Array(0);
  latentScales: Float32Array = new Float32Array(0);
  latentF32: Float32Array = new Float32Array(0);
  pe: Float32Array = new Float32Array(0);
  indexCodes: Uint8Array = new Uint8Array(0);
  indexScales: Float32Array = new Float32Array(0);
  capacity = 0;

  constructor(
    readonly rank: number,
    readonly ropeDim: number,
    readonly latentFp8: boolean,
    readonly indexDim: number,
    private readonly alloc: CacheAllocator = heapAllocator,
  ) {}

  ensure(positions: number): void {
    if (positions <= this.capacity) return;
    let cap = Math.max(16, this.capacity);
    while (cap < positions) cap *= 2;
    const a = this.alloc;
    const grow = <T extends Uint8Array | Float32Array>(old: T, per: number, make: (n: number) => T): T => {
      const n = make(cap * per);
      n.set(old.subarray(0, this.capacity * per));
      a.free(old);
      return n;
    };
    if (this.latentFp8) {
      this.latentCodes = grow(this.latentCodes, this.rank, (n) => a.u8(n));
      this.latentScales = grow(this.latentScales, this.rank / 128, (n) => a.f32(n));
    } else {
      this.latentF32 = grow(this.latentF32, this.rank, (n) => a.f32(n));
    }
    this.pe = grow(this.pe, this.ropeDim, (n) => a.f32(n));
    if (this.indexDim) {
      this.indexCodes = grow(this.indexCodes, this.indexDim, (n) => a.u8(n));
      this.indexScales = grow(this.indexScales, 1, (n) => a.f32(n));
    }
    this.capacity = cap;
  }

  /** Returns the storage to its allocator (the cache is empty afterwards). */
  release(): void {
    for (const arr of [this.latentCodes, this.latentScales, this.latentF32, this.pe, this.indexCodes, this.indexScales]) this.alloc.free(arr);
    this.latentCodes = new Uint8Array(0);
    this.latentScales = new Float32Array(0);
    this.latentF32 = new Float32Array(0);
    this.pe = new Float32Array(0);
    this.indexCodes = new Uint8Array(0);
    this.indexScales = new Float32Array(0);
    this.capacity = 0;
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

  constructor(cfg: ModelConfig, alloc: CacheAllocator = heapAllocator) {
    const make = () => new LayerCache(cfg.kvLoraRank, cfg.qkRopeHeadDim, cfg.indexer !== null, cfg.indexer?.headDim ?? 0, alloc);
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

  /** Frees the storage (backend memory) now rather than at garbage collection. */
  release(): void {
    for (const l of [...this.layers, ...this.mtp]) l.release();
    this.length = 0;
  }
}
