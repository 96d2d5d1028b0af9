// Multi-token prediction module (spec §9): predicts token t+2 from the main model's final hidden state
// at t and the embedding of token t+1:  h' = eh_proj([enorm(embed(tok_{t+1})) ; hnorm(h_t)])  (embedding
// first), one full decoder block with its own caches, then shared_head.norm and the head.
import type { Backend, Linear } from '../kernels/backend.js';
import { Block, type ForwardHooks } from './block.js';
import type { LayerCache } from './cache.js';
import type { ModelConfig } from './config.js';
import { Embedding } from './embedding.js';
import type { AttentionPath } from './mla.js';
import type { Rope } from './rope.js';
import type { WeightLoader } from './weights.js';
import type { Workspace } from './workspace.js';

export class MTPLayer {
  readonly embed: Embedding;
  readonly enorm: Float32Array;
  readonly hnorm: Float32Array;
  readonly ehProj: Linear;
  readonly block: Block;
  readonly headNorm: Float32Array;
  readonly head: Linear;

  /** `index` counts MTP layers from 0; tensors live under model.layers.{num_hidden_layers + index}. */
  constructor(ld: WeightLoader, readonly index: number, readonly cfg: ModelConfig, rope: Rope, mainEmbed: Embedding, mainHead: Linear,
    private readonly ws: Workspace) {
    const layer = cfg.numLayers + index;
    const p = `model.layers.${layer}`;
    const D = cfg.hiddenSize;
    // the checkpoint stores duplicates of the embedding and head here; use them when present
    this.embed = ld.has(`${p}.embed_tokens.weight`) ? new Embedding(ld.raw(`${p}.embed_tokens.weight`, [cfg.vocabSize, D])) : mainEmbed;
    this.enorm = ld.vector(`${p}.enorm.weight`, D);
    this.hnorm = ld.vector(`${p}.hnorm.weight`, D);
    this.ehProj = ld.linear(`${p}.eh_proj`, D, 2 * D);
    this.block = new Block(ld, layer, cfg, rope, ws);
    this.headNorm = ld.vector(`${p}.shared_head.norm.weight`, D);
    this.head = ld.has(`${p}.shared_head.head.weight`) ? ld.linearF32(`${p}.shared_head.head`, cfg.vocabSize, D) : mainHead;
  }

  /**
   * hPrev [S,D]: main-model final hidden states at positions P..P+S-1; next[s] = token at position P+s+1.
   * Returns logits [S,V] predicting positions P+s+2, and the block's normed hidden (for chaining drafts);
   * both are scratch views, valid until the next forward.
   */
  forward(be: Backend, hPrev: Float32Array, next: ArrayLike<number>, P: number, cache: LayerCache,
    path: AttentionPath = 'auto', hooks?: ForwardHooks): { logits: Float32Array; hidden: Float32Array } {
    const S = next.length;
    const D = this.cfg.hiddenSize;
    const eps = this.cfg.rmsNormEps;
    const ws = this.ws;
    const e = this.embed.lookup(next, ws.f32('mtp.e', S * D));
    // as vLLM/SGLang: the embedding input at absolute position 0 is masked
    if (P === 0) e.fill(0, 0, D);
    const en = be.rmsNorm(e, S, D, this.enorm, eps, ws.f32('mtp.en', S * D));
    const hn = be.rmsNorm(hPrev, S, D, this.hnorm, eps, ws.f32('mtp.hn', S * D));
    const cat = ws.f32('mtp.cat', S * 2 * D);
    for (let s = 0; s < S; s++) {
      cat.set(en.subarray(s * D, (s + 1) * D), s * 2 * D);
      cat.set(hn.subarray(s * D, (s + 1) * D), s * 2 * D + D);
    }
    const h = be.matmul(cat, S, this.ehProj, ws.f32('mtp.h', S * D));
    this.block.forward(be, h, S, [{ row: 0, S, P, cache }], path, hooks);
    const hidden = be.rmsNorm(h, S, D, this.headNorm, eps, ws.f32('mtp.hidden', S * D));
    return { logits: be.matmul(hidden, S, this.head, ws.f32('mtp.logits', S * this.cfg.vocabSize)), hidden };
  }
}
