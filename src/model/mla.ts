// Multi-head Latent Attention (spec §5) with DeepSeek Sparse Attention on top (§6–7).
// Keys and values live in the cache as one compressed latent per token (kv_lora_rank, FP8 round-tripped
// when the model has an indexer) plus one shared RoPE key. Two mathematically equal ways to attend:
//  - MHA ("prefill"): expand every cached latent with kv_b_proj into per-head k_nope and v;
//  - absorbed ("decode", MQA): fold W_UK into the query and W_UV after the attention, so each query
//    reads only the latent rows it selected.
import { fp8RoundTripInPlace } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';
import { type Backend, type Linear, readLatent } from '../kernels/backend.js';
import type { Segment } from './cache.js';
import type { ModelConfig } from './config.js';
import { Indexer, type Selection } from './indexer.js';
import { mlaSoftmaxScale, type Rope } from './rope.js';
import type { WeightLoader } from './weights.js';
import type { Workspace } from './workspace.js';

export type AttentionPath = 'auto' | 'mha' | 'absorbed';

/**
 * MHA expands every cached latent (cost ∝ T per call) but is cheaper per (query, key) pair; absorbed reads
 * latents directly. Expansion pays off when the new tokens are a sizeable share of the context.
 */
export function autoPath(S: number, P: number): 'mha' | 'absorbed' {
  return S > 1 && S * 4 >= P + S ? 'mha' : 'absorbed';
}

export class MLA {
  /** q_a_proj and kv_a_proj_with_mqa stacked (one product of x); null: loaded apart as wqA / wkvA */
  readonly wqkvA: Linear | null;
  readonly wqA: Linear | null;
  readonly qNorm: Float32Array | null;
  readonly wqB: Linear; // q_b_proj, or q_proj when q_lora_rank is null
  readonly wkvA: Linear | null;
  readonly kvNorm: Float32Array;
  readonly wkvB: Linear;
  readonly wo: Linear;
  readonly indexer: Indexer | null;
  readonly scale: number;
  /** head counts and widths, derived from the config once */
  private readonly dim: { H: number; nope: number; R: number; dv: number; dqk: number; rank: number };
  private absorbed: { uk: Linear; uv: Linear } | null = null;

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig, readonly rope: Rope, private readonly ws: Workspace) {
    const H = cfg.numHeads;
    const dqk = cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
    // q_a_proj and kv_a_proj_with_mqa read the same input: one stacked product when they stack exactly
    this.wqkvA = cfg.qLoraRank !== null
      ? ld.linearStacked([`${prefix}.q_a_proj`, `${prefix}.kv_a_proj_with_mqa`], [cfg.qLoraRank, cfg.kvLoraRank + cfg.qkRopeHeadDim], cfg.hiddenSize)
      : null;
    if (cfg.qLoraRank !== null) {
      this.wqA = this.wqkvA ? null : ld.linear(`${prefix}.q_a_proj`, cfg.qLoraRank, cfg.hiddenSize);
      this.qNorm = ld.vector(`${prefix}.q_a_layernorm.weight`, cfg.qLoraRank);
      this.wqB = ld.linear(`${prefix}.q_b_proj`, H * dqk, cfg.qLoraRank);
    } else {
      this.wqA = null;
      this.qNorm = null;
      this.wqB = ld.linear(`${prefix}.q_proj`, H * dqk, cfg.hiddenSize);
    }
    this.wkvA = this.wqkvA ? null : ld.linear(`${prefix}.kv_a_proj_with_mqa`, cfg.kvLoraRank + cfg.qkRopeHeadDim, cfg.hiddenSize);
    this.kvNorm = ld.vector(`${prefix}.kv_a_layernorm.weight`, cfg.kvLoraRank);
    this.wkvB = ld.linear(`${prefix}.kv_b_proj`, H * (cfg.qkNopeHeadDim + cfg.vHeadDim), cfg.kvLoraRank);
    this.wo = ld.linear(`${prefix}.o_proj`, cfg.hiddenSize, H * cfg.vHeadDim);
    this.indexer = cfg.indexer ? new Indexer(ld, `${prefix}.indexer`, cfg, rope, ws) : null;
    this.scale = mlaSoftmaxScale(cfg);
    this.dim = { H, nope: cfg.qkNopeHeadDim, R: cfg.qkRopeHeadDim, dv: cfg.vHeadDim, dqk, rank: cfg.kvLoraRank };
  }

  /**
   * x: attn-norm output [N,hidden], rows grouped in segments (one per sequence: rows row..row+S-1 at
   * positions P..P+S-1 of that sequence's cache). Writes the new positions into each cache and returns the
   * attention output [N,hidden]. `onSelect` sees each row's DSA selection (null = all causal keys).
   */
  forward(be: Backend, x: Float32Array, N: number, segs: readonly Segment[], path: AttentionPath = 'auto',
    onSelect?: (row: number, sel: Int32Array | null) => void): Float32Array {
    const cfg = this.cfg;
    const { H, nope, R, dqk, rank } = this.dim;
    const ws = this.ws;
    for (const g of segs) g.cache.ensure(g.P + g.S);

    // the two down-projections of x: q_a (when the config has one) and kv_a, stacked or apart
    const Lq = cfg.qLoraRank ?? 0;
    const kv = ws.f32('mla.kv', N * (rank + R));
    const cq = ws.f32('mla.cq', N * Lq);
    if (this.wqkvA) {
      const both = be.matmul(x, N, this.wqkvA, ws.f32('mla.qkv', N * (Lq + rank + R)));
      for (let r = 0; r < N; r++) {
        const o = r * (Lq + rank + R);
        cq.set(both.subarray(o, o + Lq), r * Lq);
        kv.set(both.subarray(o + Lq, o + Lq + rank + R), r * (rank + R));
      }
    } else {
      if (this.wqA) be.matmul(x, N, this.wqA, cq);
      be.matmul(x, N, this.wkvA!, kv);
    }

    // queries
    let qr: Float32Array | null = null;
    const q = ws.f32('mla.q', N * H * dqk);
    if (Lq > 0) {
      qr = be.rmsNorm(cq, N, cfg.qLoraRank!, this.qNorm!, cfg.rmsNormEps, ws.f32('mla.qr', N * cfg.qLoraRank!));
      be.matmul(qr, N, this.wqB, q);
    } else {
      be.matmul(x, N, this.wqB, q);
    }
    for (const g of segs) {
      for (let s = 0; s < g.S; s++) for (let h = 0; h < H; h++) this.rope.interleaved(q, ((g.row + s) * H + h) * dqk + nope, g.P + s);
    }

    // keys/values: one latent + one shared RoPE key per token, straight into the cache
    const lat = ws.f32('mla.lat', N * rank);
    for (let r = 0; r < N; r++) lat.set(kv.subarray(r * (rank + R), r * (rank + R) + rank), r * rank);
    be.rmsNorm(lat, N, rank, this.kvNorm, cfg.rmsNormEps, lat);
    for (const g of segs) {
      const cache = g.cache;
      for (let s = 0; s < g.S; s++) {
        const pos = g.P + s;
        const r = g.row + s;
        const row = lat.subarray(r * rank, (r + 1) * rank);
        if (cache.latentFp8) {
          fp8RoundTripInPlace(row, 128, cache.latentScales.subarray((pos * rank) / 128, ((pos + 1) * rank) / 128),
            cache.latentCodes.subarray(pos * rank, (pos + 1) * rank));
        } else {
          cache.latentF32.set(row, pos * rank);
        }
        const pe = cache.pe.subarray(pos * R, (pos + 1) * R);
        pe.set(kv.subarray(r * (rank + R) + rank, (r + 1) * (rank + R)));
        this.rope.interleaved(pe, 0, pos);
      }
    }

    // DSA: which keys each query may see
    const sel: Selection | null = this.indexer ? this.indexer.forward(be, x, qr!, N, segs) : null;
    if (onSelect) for (let r = 0; r < N; r++) onSelect(r, sel ? sel[r]! : null);

    const out = ws.f32('mla.out', N * H * cfg.vHeadDim);
    for (const g of segs) {
      const usePath = path === 'auto' ? autoPath(g.S, g.P) : path;
      const qs = q.subarray(g.row * H * dqk, (g.row + g.S) * H * dqk);
      const os = out.subarray(g.row * H * cfg.vHeadDim, (g.row + g.S) * H * cfg.vHeadDim);
      if (usePath === 'mha') this.attendMHA(be, qs, g, sel, os);
      else this.attendAbsorbed(be, qs, g, sel, os);
    }
    return be.matmul(out, N, this.wo, ws.f32('mla.o', N * cfg.hiddenSize));
  }

  /** Expands all T = P+S cached latents to per-head keys and values, then causal (+DSA) attention. */
  private attendMHA(be: Backend, q: Float32Array, g: Segment, sel: Selection | null, out: Float32Array): void {
    const { S, P, cache } = g;
    const { H, nope, R, dv, dqk, rank } = this.dim;
    const T = P + S;
    const ws = this.ws;
    const lat = ws.f32('mha.lat', T * rank);
    for (let t = 0; t < T; t++) readLatent(cache, t, lat.subarray(t * rank, (t + 1) * rank));
    const kvb = be.matmul(lat, T, this.wkvB, ws.f32('mha.kvb', T * H * (nope + dv))); // [T, H, nope+dv]
    const k = ws.f32('mha.k', T * H * dqk);
    const v = ws.f32('mha.v', T * H * dv);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const src = (t * H + h) * (nope + dv);
        k.set(kvb.subarray(src, src + nope), (t * H + h) * dqk);
        k.set(cache.pe.subarray(t * R, (t + 1) * R), (t * H + h) * dqk + nope);
        v.set(kvb.subarray(src + nope, src + nope + dv), (t * H + h) * dv);
      }
    }
    be.mhaAttention(q, k, v, S, T, P, H, dqk, dv, this.scale, sel ? sel.slice(g.row, g.row + S) : null, out);
  }

  /** Weight absorption: q̃_h = q_nope_h·W_UK_h, attention over latents, o_h = u_h·W_UV_hᵀ. */
  private attendAbsorbed(be: Backend, q: Float32Array, g: Segment, sel: Selection | null, out: Float32Array): void {
    const { S, P, cache } = g;
    const { H, nope, R, dv, dqk, rank } = this.dim;
    const { uk, uv } = this.absorbedWeights(be);
    const qNope = this.ws.f32('abs.qnope', H * nope);
    const qLat = this.ws.f32('abs.qlat', H * rank);
    const qPe = this.ws.f32('abs.qpe', H * R);
    const u = this.ws.f32('abs.u', H * rank);
    for (let s = 0; s < S; s++) {
      for (let h = 0; h < H; h++) {
        const qo = (s * H + h) * dqk;
        qNope.set(q.subarray(qo, qo + nope), h * nope);
        qPe.set(q.subarray(qo + nope, qo + dqk), h * R);
      }
      // every head's product in one call: the heads' W_UK/W_UV are stacked into one matrix each
      be.matmulGrouped(qNope, H, uk, qLat);
      const si = sel ? sel[g.row + s]! : null;
      be.latentAttention(qLat, qPe, H, cache, P + s + 1, si, si ? si.length : 0, this.scale, u);
      be.matmulGrouped(u, H, uv, out.subarray(s * H * dv, (s + 1) * H * dv));
    }
  }

  /**
   * The heads' W_UKᵀ [rank, nope] stacked into [H·rank, nope] and W_UV [dv, rank] into [H·dv, rank], from
   * the dequantised kv_b_proj, built once. Kept in BF16 when every value is a BF16 number (a BF16
   * checkpoint: exact, and half the bytes to stream per token), else in fp32.
   */
  private absorbedWeights(be: Backend): { uk: Linear; uv: Linear } {
    if (this.absorbed) return this.absorbed;
    const { H, nope, dv, rank } = this.dim;
    const W = be.dequantize(this.wkvB); // [H*(nope+dv), rank]
    const ukT = new Float32Array(H * rank * nope);
    const uvW = new Float32Array(H * dv * rank);
    for (let h = 0; h < H; h++) {
      const base = h * (nope + dv) * rank;
      for (let d = 0; d < nope; d++) for (let c = 0; c < rank; c++) ukT[(h * rank + c) * nope + d] = W[base + d * rank + c]!;
      uvW.set(W.subarray(base + nope * rank, base + (nope + dv) * rank), h * dv * rank);
    }
    this.absorbed = {
      uk: be.linear(`${this.wkvB.name}#uk`, narrowTensor(ukT, [H * rank, nope]), undefined, false),
      uv: be.linear(`${this.wkvB.name}#uv`, narrowTensor(uvW, [H * dv, rank]), undefined, false),
    };
    return this.absorbed;
  }
}

/** fp32 values as a BF16 tensor when that is lossless (all low halves zero), else as F32. */
export function narrowTensor(data: Float32Array, shape: number[]): StoredTensor {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  let exact = true;
  for (let i = 0; i < bits.length && exact; i++) if ((bits[i]! & 0xffff) !== 0) exact = false;
  if (!exact) return { name: '', dtype: 'F32', shape, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  const half = new Uint16Array(data.length);
  for (let i = 0; i < bits.length; i++) half[i] = bits[i]! >>> 16;
  return { name: '', dtype: 'BF16', shape, bytes: new Uint8Array(half.buffer) };
}
