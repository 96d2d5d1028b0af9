// The lightning indexer of DeepSeek Sparse Attention (spec §6–7): a few cheap FP8 heads score every
// cached key for each query, and the query's MLA attention is restricted to the top-k keys.
//   I[s,t] = k_s[t] · Σ_h w'[s,h] · ReLU(q_fp8[s,h] · k_fp8[t]),   w' = w · H^-½ · q_s · D^-½
// Vectors are [rope | nope] (RoPE first, half-split pairs), Hadamard-rotated before FP8 quantisation.
import { E4M3_TABLE, fp8RoundTripInPlace } from '../formats/dtype.js';
import type { Backend, Linear } from '../kernels/backend.js';
import type { LayerCache } from './cache.js';
import type { IndexerConfig, ModelConfig } from './config.js';
import type { Rope } from './rope.js';
import type { WeightLoader } from './weights.js';

/** In-place Walsh–Hadamard transform (Sylvester order, H[i][j] = (−1)^popcount(i&j)) of x[off..off+n), times `scale`. */
export function hadamard(x: Float32Array, off: number, n: number, scale: number): void {
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = off + i; j < off + i + h; j++) {
        const a = x[j]!;
        const b = x[j + h]!;
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  for (let i = off; i < off + n; i++) x[i]! *= scale;
}

/** Per query: the selected key positions, or null when every causal key is selected. */
export type Selection = (Int32Array | null)[];

export class Indexer {
  readonly wqB: Linear;
  readonly wk: Linear;
  readonly kNormW: Float32Array;
  readonly kNormB: Float32Array;
  readonly weightsProj: Linear;
  readonly ic: IndexerConfig;

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig, readonly rope: Rope) {
    const ic = cfg.indexer!;
    this.ic = ic;
    this.wqB = ld.linear(`${prefix}.wq_b`, ic.nHeads * ic.headDim, cfg.qLoraRank!);
    this.wk = ld.linear(`${prefix}.wk`, ic.headDim, cfg.hiddenSize);
    this.kNormW = ld.vector(`${prefix}.k_norm.weight`, ic.headDim);
    this.kNormB = ld.vector(`${prefix}.k_norm.bias`, ic.headDim);
    this.weightsProj = ld.linearF32(`${prefix}.weights_proj`, ic.nHeads, cfg.hiddenSize);
    // the reference's FP8 key cache keeps one scale per token: one 128-group per key
    if (ic.headDim !== 128) throw new Error(`index_head_dim ${ic.headDim} is not supported (the FP8 indexer cache needs 128)`);
  }

  /**
   * Writes the new tokens' FP8 keys into the cache and returns each new query's selection.
   * x: attn-norm output [S,hidden]; qr: MLA q latent after q_norm [S,q_lora_rank]; positions P..P+S-1.
   */
  forward(be: Backend, x: Float32Array, qr: Float32Array, S: number, P: number, cache: LayerCache): Selection {
    const { nHeads: H, headDim: D, topk } = this.ic;
    const R = this.cfg.qkRopeHeadDim;
    const hscale = D ** -0.5;

    // keys: wk → LayerNorm → RoPE(half-split) on [0,R) → Hadamard → FP8 (one scale per token) → cache
    const k = be.layerNorm(be.matmul(x, S, this.wk), S, D, this.kNormW, this.kNormB, 1e-6);
    for (let s = 0; s < S; s++) {
      const pos = P + s;
      this.rope.halfSplit(k, s * D, pos);
      hadamard(k, s * D, D, hscale);
      const row = k.subarray(s * D, (s + 1) * D);
      const scale = new Float32Array(D / 128);
      fp8RoundTripInPlace(row, 128, scale, cache.indexCodes.subarray(pos * D, (pos + 1) * D));
      cache.indexScales[pos] = scale[0]!;
    }

    // queries: wq_b(qr) → RoPE per head → Hadamard → FP8 per head
    const q = be.matmul(qr, S, this.wqB);
    const qScale = new Float32Array(S * H);
    const qCodes = new Uint8Array(S * H * D);
    for (let s = 0; s < S; s++) {
      for (let h = 0; h < H; h++) {
        const off = (s * H + h) * D;
        this.rope.halfSplit(q, off, P + s);
        hadamard(q, off, D, hscale);
        const sc = new Float32Array(D / 128);
        fp8RoundTripInPlace(q.subarray(off, off + D), 128, sc, qCodes.subarray(off, off + D));
        qScale[s * H + h] = sc[0]!;
      }
    }
    const qDec = new Float32Array(S * H * D);
    for (let i = 0; i < qDec.length; i++) qDec[i] = E4M3_TABLE[qCodes[i]!]!;

    // head weights in fp32 from the un-rotated hidden state
    const w = be.matmul(x, S, this.weightsProj);
    const headScale = H ** -0.5;
    const sel: Selection = [];
    for (let s = 0; s < S; s++) {
      const T = P + s + 1; // causal keys of this query
      if (T <= topk) {
        sel.push(null); // everything is selected; the cache is filled all the same
        continue;
      }
      const ws = new Float32Array(H);
      for (let h = 0; h < H; h++) ws[h] = w[s * H + h]! * headScale * qScale[s * H + h]! * hscale;
      const scores = new Float32Array(T);
      be.indexerScores(qDec.subarray(s * H * D, (s + 1) * H * D), ws, H, cache, T, scores);
      const idx = new Int32Array(topk);
      be.topk(scores, T, topk, idx);
      sel.push(idx);
    }
    return sel;
  }
}
