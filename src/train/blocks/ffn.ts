// Feed-forward blocks (spec §8): the SwiGLU MLP (dense layers, each routed expert, the shared experts)
// and the DeepSeekMoE layer: sigmoid router with the selection-only correction bias, group-limited
// top-k, weights renormalised × routed_scaling_factor, plus the unscaled shared expert.
import type { Tensor } from '../autograd/tensor.js';
import { sigmoid, swiglu } from '../ops/activations.js';
import { add } from '../ops/arith.js';
import { sequenceBalanceLoss } from '../ops/balanceLoss.js';
import { combineExperts, type ExpertOutput } from '../ops/combine.js';
import { linear } from '../ops/linear.js';
import { dispatch, route } from '../ops/router.js';
import { gatherRows } from '../ops/shape.js';
import type { ForwardContext } from './context.js';

/** down(silu(gate(x)) ⊙ up(x)) with weights `${prefix}{gate,up,down}_proj.weight`. */
export function swigluMlp(ctx: ForwardContext, prefix: string, x: Tensor): Tensor {
  const p = (n: string) => ctx.params.get(`${prefix}${n}_proj.weight`);
  return linear(swiglu(linear(x, p('gate')), linear(x, p('up'))), p('down'));
}

export function moeBlock(ctx: ForwardContext, layer: number, x: Tensor): Tensor {
  const { cfg } = ctx;
  const pre = `model.layers.${layer}.mlp.`;
  const E = cfg.nRoutedExperts;
  const k = cfg.expertsPerToken;
  const N = x.rows;
  const D = x.cols;
  const scores = sigmoid(linear(x, ctx.params.get(`${pre}gate.weight`)));
  const bias = ctx.params.get(`${pre}gate.e_score_correction_bias`).data;
  const r = route(scores, bias, {
    experts: E, topk: k, nGroup: cfg.nGroup, topkGroup: cfg.topkGroup, normTopkProb: cfg.normTopkProb, scale: cfg.routedScalingFactor,
  });
  const d = dispatch(r.experts, N, k, E);
  const outs: ExpertOutput[] = [];
  for (let e = 0; e < E; e++) {
    const rows = d.rows[e]!;
    if (!rows.length) continue;
    outs.push({ y: swigluMlp(ctx, `${pre}experts.${e}.`, gatherRows(x, rows)), rows, slots: d.slots[e]! });
  }
  let y = combineExperts(outs, r.weights, N, D);
  if (cfg.nSharedExperts > 0) y = add(y, swigluMlp(ctx, `${pre}shared_experts.`, x));
  ctx.balance.push(sequenceBalanceLoss(scores, r.experts, ctx.B, ctx.S, k, 1));
  ctx.loads.set(layer, d.load);
  return y;
}
