// The small set of operations the model is written against. The portable TypeScript backend
// (portable.ts) is the readable truth; fast backends implement the same interface and are tested
// against it. The model never knows how a matmul is computed.
import { E4M3_TABLE } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';

export interface LinearOptions {
  exact?: boolean;
}

/** A weight [out, in] prepared by a backend (possibly repacked); opaque to the model. */
export interface Linear {
  readonly name: string;
  readonly outDim: number;
  readonly inDim: number;
  /** Input activations are FP8-quantised per 128 (ue8m0 scales) before the product, as fp8_gemm does. */
  readonly actQuant: boolean;
}

/**
 * Per-layer attention cache in the formats the kernels read.
 * latent: FP8 e4m3 codes + one fp32 scale per 128 values (the reference's KV round trip, 656-B-style)
 * when `latentFp8`, else fp32 values. pe: the RoPE'd shared key, fp32. Indexer keys: FP8 codes + one
 * fp32 scale per token (132-B-style).
 */
export interface LayerCacheView {
  readonly rank: number;
  readonly ropeDim: number;
  readonly latentFp8: boolean;
  latentCodes: Uint8Array;
  latentScales: Float32Array;
  latentF32: Float32Array;
  pe: Float32Array;
  readonly indexDim: number;
  indexCodes: Uint8Array;
  indexScales: Float32Array;
}

/** Where cache arrays live: a backend may hand out views of its own memory so kernels read them in place. */
export interface CacheAllocator {
  u8(length: number): Uint8Array;
  f32(length: number): Float32Array;
  /** gives an array from u8/f32 back (arrays it does not own are ignored) */
  free(a: Uint8Array | Float32Array): void;
}

export const heapAllocator: CacheAllocator = {
  u8: (n) => new Uint8Array(n),
  f32: (n) => new Float32Array(n),
  free: () => {},
};

export interface Backend {
  readonly name: string;
  /** storage for the attention caches; plain JS arrays when absent */
  readonly cacheAllocator?: CacheAllocator;

  /**
   * Prepares a stored [out,in] weight (BF16/F16/F32/F8_E4M3 with block scales) for matmul. `exact` asks a
   * backend with a lossy repack (e.g. int8) to keep this weight as stored: the model sets it for the small
   * weights that make discrete choices (indexer, router), where rounding would flip selections.
   */
  linear(name: string, w: StoredTensor, scaleInv?: StoredTensor, actQuant?: boolean, opts?: LinearOptions): Linear;
  /** y[M,out] = x[M,in] · Wᵀ, fp32 accumulation. */
  matmul(x: Float32Array, M: number, w: Linear, y?: Float32Array): Float32Array;
  /**
   * G products in one call: W's rows form G groups of out/G rows, and group g multiplies x row g:
   * y[g·n + j] = x[g,:] · W[g·n + j,:] (n = out/G). For per-head weights stacked into one matrix.
   */
  matmulGrouped(x: Float32Array, G: number, w: Linear, y?: Float32Array): Float32Array;
  /**
   * Several one-row products at once: items[i].y = items[i].x · items[i].wᵀ (what matmul(x, 1, w, y) gives).
   * For a decode step's MoE, whose experts are each a few MB: one call instead of one per expert.
   */
  matmulList(items: readonly MatmulItem[]): void;
  /** The weight as dense fp32 [out,in] (block scales applied). */
  dequantize(w: Linear): Float32Array;

  /** y = γ ⊙ x / rms(x) per row. */
  rmsNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, eps: number, y?: Float32Array): Float32Array;
  /** gate[i] ← silu(gate[i]) · up[i] = gate/(1 + e^−gate) · up for i < n (the MLP's SwiGLU); returns gate. */
  swiglu(gate: Float32Array, up: Float32Array, n: number): Float32Array;
  /** y = γ ⊙ (x − mean)/sqrt(var + eps) + β per row. */
  layerNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, beta: Float32Array, eps: number, y?: Float32Array): Float32Array;

  /**
   * Indexer scores of `rows` queries (default 1) against keys 0..T-1 of the FP8 indexer cache:
   * out[r,t] = kScale[t] · Σ_h w[r,h] · ReLU(Σ_d q[r,h,d] · e4m3(kCodes[t,d])), out [rows, T].
   * q holds the queries' decoded FP8 values [rows, H, D]; w [rows, H] folds the head weights and all
   * scales. Row r's scores are the same whatever `rows` is (a prefill chunk scores in one call and
   * each query then uses only its causal prefix).
   */
  indexerScores(q: Float32Array, w: Float32Array, H: number, cache: LayerCacheView, T: number, out: Float32Array, rows?: number): void;

  /** Indices of the k largest of scores[0..n) (any order) into out; returns k. */
  topk(scores: Float32Array, n: number, k: number, out: Int32Array): number;

  /**
   * Absorbed (MQA) attention of one query over the latent cache, for every head h:
   * s_t = scale·(qLat_h·latent_t + qPe_h·pe_t) for t in sel (or 0..T-1 when sel is null),
   * p = softmax(s), out_h = Σ_t p_t · latent_t.  qLat [H,rank], qPe [H,rope], out [H,rank].
   */
  latentAttention(qLat: Float32Array, qPe: Float32Array, H: number, cache: LayerCacheView, T: number,
    sel: Int32Array | null, selCount: number, scale: number, out: Float32Array): void;

  /**
   * Materialised-K/V (MHA) attention for S queries at positions P..P+S-1 over keys 0..T-1:
   * q [S,H,dqk], k [T,H,dqk], v [T,H,dv] → out [S,H,dv]. Query s sees keys t ≤ P+s, and only those in
   * sel[s] when sel is given.
   */
  mhaAttention(q: Float32Array, k: Float32Array, v: Float32Array, S: number, T: number, P: number, H: number,
    dqk: number, dv: number, scale: number, sel: (Int32Array | null)[] | null, out: Float32Array): void;
}

/** One row of matmulList: x [in] · wᵀ into y [out]. */
export interface MatmulItem { x: Float32Array; w: Linear; y: Float32Array }

/** The fp32 latent of cached token t. */
export function readLatent(cache: LayerCacheView, t: number, out: Float32Array): void {
  const R = cache.rank;
  if (!cache.latentFp8) {
    out.set(cache.latentF32.subarray(t * R, (t + 1) * R));
    return;
  }
  const groups = R / 128;
  for (let g = 0; g < groups; g++) {
    const sc = cache.latentScales[t * groups + g]!;
    for (let c = g * 128; c < (g + 1) * 128; c++) out[c] = E4M3_TABLE[cache.latentCodes[t * R + c]!]! * sc;
  }
}
