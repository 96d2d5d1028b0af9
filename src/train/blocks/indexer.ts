// The lightning indexer of one layer (spec §6) and the DSA top-k selection it drives (§7).
// q from the q latent (wq_b), k from the normed hidden (wk → LayerNorm with bias), half-split RoPE on
// the first qk_rope_head_dim dims of each head ([rope | nope] order), per-head weights from
// weights_proj; scores in fp32 (see ops/indexerScore.ts for why no FP8/Hadamard in training).
import type { Tensor } from '../autograd/tensor.js';
import { indexerScore } from '../ops/indexerScore.js';
import { layerNorm } from '../ops/layernorm.js';
import { linear } from '../ops/linear.js';
import { rope } from '../ops/rope.js';
import { type ForwardContext, layerParam } from './context.js';

/** x = attention-norm output, qr = MLA's normed q latent → I [B·S, S] (causal entries only). */
export function indexerScores(ctx: ForwardContext, layer: number, x: Tensor, qr: Tensor): Tensor {
  const ic = ctx.cfg.indexer;
  if (!ic) throw new Error('indexer: the config has no index_n_heads/index_head_dim (not deepseek_v32)');
  const p = (n: string) => layerParam(ctx, layer, `self_attn.indexer.${n}`);
  let q = linear(qr, p('wq_b.weight'));
  q = rope(q, ctx.rope, { S: ctx.S, heads: ic.nHeads, stride: ic.headDim, offset: 0, interleaved: false });
  let k = linear(x, p('wk.weight'));
  k = layerNorm(k, p('k_norm.weight'), p('k_norm.bias'), 1e-6);
  k = rope(k, ctx.rope, { S: ctx.S, heads: 1, stride: ic.headDim, offset: 0, interleaved: false });
  const w = linear(x, p('weights_proj.weight'));
  return indexerScore(q, k, w, { B: ctx.B, S: ctx.S, heads: ic.nHeads, headDim: ic.headDim });
}

/** 1 where key t ≤ s, for every query row of every sequence: [B·S, S]. */
export function causalMask(B: number, S: number): Uint8Array {
  const m = new Uint8Array(B * S * S);
  for (let r = 0; r < B * S; r++) m.fill(1, r * S, r * S + (r % S) + 1);
  return m;
}

/**
 * For each query s: the min(k, s+1) causally valid keys with the largest scores (ties broken toward
 * earlier keys). Only past keys compete, so the causal mask never has to be re-applied (pitfall 4).
 */
export function topkSelection(scores: Float32Array, B: number, S: number, k: number): Uint8Array {
  const sel = new Uint8Array(B * S * S);
  const tmp = new Float32Array(S);
  for (let r = 0; r < B * S; r++) {
    const n = (r % S) + 1;
    const o = r * S;
    if (n <= k) {
      sel.fill(1, o, o + n);
      continue;
    }
    tmp.set(scores.subarray(o, o + n));
    const sorted = tmp.subarray(0, n).sort();
    const thr = sorted[n - k]!;
    let above = 0;
    for (let t = 0; t < n; t++) if (scores[o + t]! > thr) above++;
    let ties = k - above;
    for (let t = 0; t < n; t++) {
      const v = scores[o + t]!;
      if (v > thr) sel[o + t] = 1;
      else if (v === thr && ties > 0) { sel[o + t] = 1; ties--; }
    }
  }
  return sel;
}
