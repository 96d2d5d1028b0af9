// MLA with DeepSeek Sparse Attention for training (spec §5, §7, §14).
//   q: q_a_proj → q_a_layernorm → q_b_proj (or q_proj without a q LoRA), interleaved RoPE on each
//   head's pe part; kv: kv_a_proj_with_mqa → [latent | k_pe], kv_a_layernorm on the latent, kv_b_proj →
//   per head [k_nope | v]; interleaved RoPE on the shared k_pe; softmax scale with the YaRN mscale².
// Stage behaviour:
//   pretrain        dense causal attention; the indexer is not run.
//   indexer-warmup  dense attention; KL(p ‖ softmax(I)) over causal keys, p = head-summed attention.
//   sparse          each query attends only to its indexer top-k; KL restricted to that set; the
//                   indexer reads detached inputs, so it learns only from the KL and the main model
//                   only from the LM loss (p is a constant target either way).
import { detach, type Tensor } from '../autograd/tensor.js';
import { attentionTarget, mlaAttention } from '../ops/attention.js';
import { klDivergence } from '../ops/kl.js';
import { linear } from '../ops/linear.js';
import { rmsNorm } from '../ops/rmsnorm.js';
import { rope } from '../ops/rope.js';
import { sliceCols } from '../ops/shape.js';
import { mlaSoftmaxScale } from '../ops/yarn.js';
import { type ForwardContext, layerParam } from './context.js';
import { causalMask, indexerScores, topkSelection } from './indexer.js';

export function attentionBlock(ctx: ForwardContext, layer: number, xn: Tensor): Tensor {
  const { cfg, B, S } = ctx;
  const p = (n: string) => layerParam(ctx, layer, `self_attn.${n}`);
  const eps = cfg.rmsNormEps;
  const H = cfg.numHeads;
  const dn = cfg.qkNopeHeadDim, dr = cfg.qkRopeHeadDim, dv = cfg.vHeadDim, rank = cfg.kvLoraRank;

  let q: Tensor;
  let qr: Tensor | null = null;
  if (cfg.qLoraRank !== null) {
    qr = rmsNorm(linear(xn, p('q_a_proj.weight')), p('q_a_layernorm.weight'), eps);
    q = linear(qr, p('q_b_proj.weight'));
  } else {
    q = linear(xn, p('q_proj.weight'));
  }
  q = rope(q, ctx.rope, { S, heads: H, stride: dn + dr, offset: dn, interleaved: true });
  const kva = linear(xn, p('kv_a_proj_with_mqa.weight'));
  const latent = rmsNorm(sliceCols(kva, 0, rank), p('kv_a_layernorm.weight'), eps);
  const kPe = rope(sliceCols(kva, rank, rank + dr), ctx.rope, { S, heads: 1, stride: dr, offset: 0, interleaved: true });
  const kv = linear(latent, p('kv_b_proj.weight'));

  let scores: Tensor | null = null;
  let allowed: Uint8Array | null = null;
  if (ctx.mode !== 'pretrain') {
    if (!cfg.indexer || !qr) throw new Error(`stage "${ctx.mode}" needs a deepseek_v32 config (lightning indexer)`);
    const sparse = ctx.mode === 'sparse';
    scores = indexerScores(ctx, layer, sparse ? detach(xn) : xn, sparse ? detach(qr) : qr);
    if (sparse) allowed = topkSelection(scores.data, B, S, cfg.indexer.topk);
  }
  const att = mlaAttention(q, kv, kPe, { B, S, heads: H, nope: dn, rope: dr, v: dv, scale: mlaSoftmaxScale(cfg) }, allowed);
  if (scores) ctx.kl.push(klDivergence(scores, attentionTarget(att.probs, B, H, S), allowed ?? causalMask(B, S)));
  return linear(att.out, p('o_proj.weight'));
}
