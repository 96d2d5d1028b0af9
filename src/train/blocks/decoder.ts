// One decoder layer: h + MLA(RMSNorm(h)), then + FFN(RMSNorm(·)) — dense SwiGLU for the first
// first_k_dense_replace layers, MoE after (and in the MTP layer).
import { isMoeLayer } from '../../model/config.js';
import type { Tensor } from '../autograd/tensor.js';
import { add } from '../ops/arith.js';
import { rmsNorm } from '../ops/rmsnorm.js';
import { attentionBlock } from './attention.js';
import { type ForwardContext, layerParam } from './context.js';
import { moeBlock, swigluMlp } from './ffn.js';

export function decoderLayer(ctx: ForwardContext, layer: number, h: Tensor): Tensor {
  const eps = ctx.cfg.rmsNormEps;
  const xn = rmsNorm(h, layerParam(ctx, layer, 'input_layernorm.weight'), eps);
  h = add(h, attentionBlock(ctx, layer, xn));
  const fn = rmsNorm(h, layerParam(ctx, layer, 'post_attention_layernorm.weight'), eps);
  const f = isMoeLayer(ctx.cfg, layer) ? moeBlock(ctx, layer, fn) : swigluMlp(ctx, `model.layers.${layer}.mlp.`, fn);
  return add(h, f);
}
