// The lightning indexer of DeepSeek Sparse Attention (spec §6–7): a few cheap FP8 heads score every
// cached key for each query, and the query's MLA attention is restricted to the top-k keys.
//   I[s,t] = k_s[t] · Σ_h w'[s,h] · ReLU(q_fp8[s,h] · k_fp8[t]),   w' = w · H^-½ · q_s · D^-½
// Vectors are [rope | nope] (RoPE first, half-split pairs), Hadamard-rotated before FP8 quantisation.
import { E4M3_TABLE, fp8RoundTripInPlace } from '../formats/dtype.js';
import type { Backend, Linear } from '../kernels/backend.js';
import type { Segment } from './cache.js';
import type { IndexerConfig, ModelConfig } from './config.js';
import type { Rope } from './rope.js';
import type { WeightLoader } from './weights.js';
import type { Workspace } from './workspace.js';

/** Floats of indexer scores one call may produce (rows × keys): bounds a long prompt's scratch. */
const SCORE_BLOCK = 1 << 22;

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
  /** the selection array handed out by forward (valid until the next call) */
  private readonly sel: Selection = [];

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig, readonly rope: Rope, private readonly ws: Workspace) {
    const ic = cfg.indexer!;
    this.ic = ic;
    // the indexer makes discrete top-k choices: keep its weights exact under lossy repacks
    this.wqB = ld.linear(`${prefix}.wq_b`, ic.nHeads * ic.headDim, cfg.qLoraRank!, { exact: true });
    this.wk = ld.linear(`${prefix}.wk`, ic.headDim, cfg.hiddenSize, { exact: true });
    this.kNormW = ld.vector(`${prefix}.k_norm.weight`, ic.headDim);
    this.kNormB = ld.vector(`${prefix}.k_norm.bias`, ic.headDim);
    this.weightsProj = ld.linearF32(`${prefix}.weights_proj`, ic.nHeads, cfg.hiddenSize, { exact: true });
    // the reference's FP8 key cache keeps one scale per token: one 128-group per key
    if (ic.headDim !== 128) throw new Error(`index_head_dim ${ic.headDim} is not supported (the FP8 indexer cache needs 128)`);
  }

  /**
   * Writes the new tokens' FP8 keys into their caches and returns each row's selection.
   * x: attn-norm output [N,hidden]; qr: MLA q latent after q_norm [N,q_lora_rank]; rows grouped in segments.
   */
  forward(be: Backend, x: Float32Array, qr: Float32Array, N: number, segs: readonly Segment[]): Selection {
    const { nHeads: H, headDim: D, topk } = this.ic;
    const hscale = D ** -0.5;
    const ws = this.ws;
    const scale = ws.f32('idx.scale', 1);

    // keys: wk → LayerNorm → RoPE(half-split) on the rope dims → Hadamard → FP8 (one scale per token) → cache
    const k = ws.f32('idx.k', N * D);
    be.layerNorm(be.matmul(x, N, this.wk, k), N, D, this.kNormW, this.kNormB, 1e-6, k);
    for (const g of segs) {
      for (let s = 0; s < g.S; s++) {
        const pos = g.P + s;
        const r = g.row + s;
        this.rope.halfSplit(k, r * D, pos);
        hadamard(k, r * D, D, hscale);
        fp8RoundTripInPlace(k.subarray(r * D, (r + 1) * D), 128, scale, g.cache.indexCodes.subarray(pos * D, (pos + 1) * D));
        g.cache.indexScales[pos] = scale[0]!;
      }
    }

    const sel = this.sel;
    sel.length = N;
    sel.fill(null);
    // while every query sees ≤ top-k keys nothing is scored: skip the query side (wq_b is the indexer's bulk)
    if (!segs.some((g) => g.P + g.S > topk)) return sel;

    // queries: wq_b(qr) → RoPE per head → Hadamard → FP8 per head
    const q = be.matmul(qr, N, this.wqB, ws.f32('idx.q', N * H * D));
    const qScale = ws.f32('idx.qscale', N * H);
    const qCodes = ws.u8('idx.qcodes', N * H * D);
    for (const g of segs) {
      for (let s = 0; s < g.S; s++) {
        const r = g.row + s;
        for (let h = 0; h < H; h++) {
          const off = (r * H + h) * D;
          this.rope.halfSplit(q, off, g.P + s);
          hadamard(q, off, D, hscale);
          fp8RoundTripInPlace(q.subarray(off, off + D), 128, scale, qCodes.subarray(off, off + D));
          qScale[r * H + h] = scale[0]!;
        }
      }
    }
    const qDec = ws.f32('idx.qdec', N * H * D);
    for (let i = 0; i < qDec.length; i++) qDec[i] = E4M3_TABLE[qCodes[i]!]!;

    // head weights in fp32 from the un-rotated hidden state
    const w = be.matmul(x, N, this.weightsProj, ws.f32('idx.w', N * H));
    const headScale = H ** -0.5;
    for (const g of segs) {
      // rows whose causal prefix (P+s+1 keys) exceeds top-k are scored; below that everything is selected
      // rows in blocks: one call scores a block against the keys its last row sees (each key decoded
      // once per block); row s then uses its causal prefix. Blocks keep the score matrix ≤ ~16 MB.
      for (let s0 = Math.max(0, topk - g.P); s0 < g.S;) {
        const T = g.P + Math.min(g.S, s0 + Math.max(1, Math.floor(SCORE_BLOCK / (g.P + g.S))));
        const n = T - g.P - s0, r0 = g.row + s0;
        const wh = ws.f32('idx.wh', n * H);
        for (let i = 0; i < n * H; i++) wh[i] = w[r0 * H + i]! * headScale * qScale[r0 * H + i]! * hscale;
        const scores = ws.f32('idx.scores', n * T);
        be.indexerScores(qDec.subarray(r0 * H * D, (r0 + n) * H * D), wh, H, g.cache, T, scores, n);
        for (let i = 0; i < n; i++) {
          const idx = ws.i32(`idx.sel${r0 + i}`, topk); // one per row of the batch: all rows' selections live at once
          be.topk(scores.subarray(i * T), g.P + s0 + i + 1, topk, idx);
          sel[r0 + i] = idx;
        }
        s0 += n;
      }
    }
    return sel;
  }
}
