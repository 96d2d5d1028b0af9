// A differentiable DeepSeek-V3.2 for training (config from parseConfig, tensors named as the HF
// checkpoint): embedding → L decoder layers (MLA + lightning indexer, dense MLP or MoE) → final RMSNorm
// → lm_head, plus one MTP layer. `forward` builds the loss of a training stage:
//   pretrain        LM cross-entropy + mtpWeight·MTP + balanceAlpha·sequence balance loss (dense attention)
//   indexer-warmup  mean indexer KL only (dense attention; everything else frozen by the trainer)
//   sparse          LM + MTP + balance for the main model, + indexerWeight·KL for the indexer (top-k attention)
import type { ModelConfig } from '../model/config.js';
import { type Tensor } from './autograd/tensor.js';
import type { ForwardContext } from './blocks/context.js';
import { decoderLayer } from './blocks/decoder.js';
import { mtpHidden } from './blocks/mtp.js';
import { scale, weightedSum } from './ops/arith.js';
import { crossEntropy } from './ops/crossEntropy.js';
import { embedding } from './ops/embedding.js';
import { linear } from './ops/linear.js';
import { rmsNorm } from './ops/rmsnorm.js';
import { type RopeTable, ropeTable } from './ops/yarn.js';
import { ParamStore, type TrainMode } from './params.js';

export interface LossWeights {
  /** weight of the MTP cross-entropy (DeepSeek-V3 used 0.3, then 0.1) */
  mtp: number;
  /** α of the sequence-wise balance loss */
  balanceAlpha: number;
  /** weight of the indexer KL in the sparse stage (its gradient reaches only the indexer) */
  indexer: number;
}

export const DEFAULT_LOSS_WEIGHTS: LossWeights = { mtp: 0.3, balanceAlpha: 1e-4, indexer: 1 };

export interface ForwardOutput {
  /** the scalar to differentiate */
  loss: Tensor;
  /** components (null when the stage does not compute them) */
  lm: number | null;
  mtp: number | null;
  balance: number | null;
  indexerKL: number | null;
  /** tokens routed to each expert, per MoE layer (main layers and the MTP layer) */
  loads: Map<number, Int32Array>;
}

export class TrainModel {
  private rope: RopeTable;

  constructor(readonly cfg: ModelConfig, readonly params: ParamStore, maxSeqLen = Math.min(cfg.maxPositions, 4096)) {
    this.rope = ropeTable(cfg, maxSeqLen);
  }

  /** A freshly initialised model. */
  static init(cfg: ModelConfig, seed = 1, maxSeqLen?: number): TrainModel {
    return new TrainModel(cfg, new ParamStore(cfg).initRandom(seed), maxSeqLen);
  }

  get maxSeqLen(): number {
    return this.rope.positions;
  }

  private context(B: number, S: number, mode: TrainMode): ForwardContext {
    return { cfg: this.cfg, params: this.params, rope: this.rope, B, S, mode, kl: [], balance: [], loads: new Map() };
  }

  private trunk(tokens: Int32Array, B: number, S: number, mode: TrainMode): { ctx: ForwardContext; hidden: Tensor } {
    if (tokens.length !== B * S) throw new Error(`forward: ${tokens.length} tokens is not ${B}×${S}`);
    if (S < 2) throw new Error('forward: sequences need at least 2 tokens');
    if (S > this.rope.positions) throw new Error(`forward: sequence length ${S} exceeds the model's ${this.rope.positions}`);
    const ctx = this.context(B, S, mode);
    let h = embedding(this.params.get('model.embed_tokens.weight'), tokens);
    for (let l = 0; l < this.cfg.numLayers; l++) h = decoderLayer(ctx, l, h);
    return { ctx, hidden: rmsNorm(h, this.params.get('model.norm.weight'), this.cfg.rmsNormEps) };
  }

  /**
   * Logits of every position [B·S, V] and of the MTP layer [B·(S−1), V] (null without one), with the
   * attention of `mode` (pretrain = dense, sparse = indexer top-k). For evaluation and engine checks.
   */
  logits(tokens: Int32Array, B: number, S: number, mode: TrainMode = 'sparse'): { main: Float32Array; mtp: Float32Array | null } {
    const { hidden } = this.trunk(tokens, B, S, mode);
    const head = this.params.head();
    const main = linear(hidden, head).data;
    if (!this.cfg.numMtpLayers) return { main, mtp: null };
    return { main, mtp: linear(mtpHidden(this.context(B, S - 1, mode), tokens, hidden), head).data };
  }

  /** tokens: B sequences of S ids, row-major. Each position predicts the next id; the MTP the one after. */
  forward(tokens: Int32Array, B: number, S: number, mode: TrainMode, w: LossWeights = DEFAULT_LOSS_WEIGHTS): ForwardOutput {
    const cfg = this.cfg;
    const { ctx, hidden } = this.trunk(tokens, B, S, mode);
    const head = this.params.head();
    const warmup = mode === 'indexer-warmup';

    let lm: Tensor | null = null;
    if (!warmup) lm = crossEntropy(linear(hidden, head), shiftedTargets(tokens, B, S, 1));

    let mtp: Tensor | null = null;
    const kl = [...ctx.kl];
    const balance = [...ctx.balance];
    const loads = new Map(ctx.loads);
    // a zero MTP weight skips the MTP layer (it would cost a second vocabulary head for no gradient)
    if (cfg.numMtpLayers > 0 && S >= 3 && (warmup || w.mtp > 0)) {
      const mctx = this.context(B, S - 1, mode);
      const hm = mtpHidden(mctx, tokens, hidden);
      kl.push(...mctx.kl);
      balance.push(...mctx.balance);
      for (const [l, v] of mctx.loads) loads.set(l, v);
      if (!warmup) {
        const tg = new Int32Array(B * (S - 1));
        for (let b = 0; b < B; b++) for (let i = 0; i < S - 1; i++) tg[b * (S - 1) + i] = i + 2 < S ? tokens[b * S + i + 2]! : -1;
        mtp = crossEntropy(linear(hm, head), tg);
      }
    }
    const mean = (ts: Tensor[]): Tensor | null => (ts.length ? scale(weightedSum(ts.map((t) => [t, 1])), 1 / ts.length) : null);
    const bal = warmup ? null : mean(balance);
    const klMean = mean(kl);
    const loss = weightedSum([[lm, 1], [mtp, w.mtp], [bal, w.balanceAlpha], [klMean, warmup ? 1 : w.indexer]]);
    return {
      loss,
      lm: lm?.item() ?? null,
      mtp: mtp?.item() ?? null,
      balance: bal?.item() ?? null,
      indexerKL: klMean?.item() ?? null,
      loads,
    };
  }
}

/** targets[b,s] = tokens[b, s+k], −1 (ignored) past the end. */
export function shiftedTargets(tokens: Int32Array, B: number, S: number, k: number): Int32Array {
  const t = new Int32Array(B * S);
  for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) t[b * S + s] = s + k < S ? tokens[b * S + s + k]! : -1;
  return t;
}
