// The multi-token-prediction layer (spec §9) at index num_hidden_layers: for position t it combines
// the main model's final-norm hidden h_t with the embedding of token t+1 —
// eh_proj([enorm(embed(tok_{t+1})) ; hnorm(h_t)]), embedding first — runs a full decoder block (MLA +
// its own indexer + MoE), then shared_head.norm and the shared head predict token t+2.
// The embedding input at position 0 is zeroed, as the inference engine (and vLLM/SGLang) do.
import type { Tensor } from '../autograd/tensor.js';
import { embedding } from '../ops/embedding.js';
import { linear } from '../ops/linear.js';
import { rmsNorm } from '../ops/rmsnorm.js';
import { concatCols, sliceSeq } from '../ops/shape.js';
import type { ForwardContext } from './context.js';
import { decoderLayer } from './decoder.js';

/**
 * ctx describes the MTP pass: S = main length − 1 positions. tokens are the main [B, S+1] ids,
 * hidden the main final-norm output [B·(S+1), D]. Returns the block's normed output [B·S, D].
 */
export function mtpHidden(ctx: ForwardContext, tokens: Int32Array, hidden: Tensor): Tensor {
  const { cfg, B, S } = ctx;
  const L = cfg.numLayers;
  const p = (n: string) => ctx.params.get(`model.layers.${L}.${n}`);
  const eps = cfg.rmsNormEps;
  const next = new Int32Array(B * S);
  for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) next[b * S + i] = i === 0 ? -1 : tokens[b * (S + 1) + i + 1]!;
  const e = rmsNorm(embedding(ctx.params.get('model.embed_tokens.weight'), next), p('enorm.weight'), eps);
  const h = rmsNorm(sliceSeq(hidden, B, S + 1, 0, S), p('hnorm.weight'), eps);
  const out = decoderLayer(ctx, L, linear(concatCols([e, h]), p('eh_proj.weight')));
  return rmsNorm(out, p('shared_head.norm.weight'), eps);
}
