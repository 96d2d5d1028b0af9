// One decoder layer: x + MLA(norm(x)), then + FFN(norm(·)) with a dense MLP or MoE (spec §2).
import type { Backend } from '../kernels/backend.js';
import type { LayerCache } from './cache.js';
import { isMoeLayer, type ModelConfig } from './config.js';
import { type AttentionPath, MLA } from './mla.js';
import { MLP, MoE, type Routing } from './moe.js';
import type { Rope } from './rope.js';
import type { WeightLoader } from './weights.js';

export interface ForwardHooks {
  /** DSA selection of layer `layer` for the query at absolute position `pos` (null = every causal key). */
  onSelect?: (layer: number, pos: number, sel: Int32Array | null) => void;
  onRoute?: (layer: number, r: Routing) => void;
}

export class Block {
  readonly attnNorm: Float32Array;
  readonly ffnNorm: Float32Array;
  readonly attn: MLA;
  readonly ffn: MLP | MoE;

  constructor(ld: WeightLoader, readonly layer: number, readonly cfg: ModelConfig, rope: Rope) {
    const p = `model.layers.${layer}`;
    this.attnNorm = ld.vector(`${p}.input_layernorm.weight`, cfg.hiddenSize);
    this.ffnNorm = ld.vector(`${p}.post_attention_layernorm.weight`, cfg.hiddenSize);
    this.attn = new MLA(ld, `${p}.self_attn`, cfg, rope);
    this.ffn = isMoeLayer(cfg, layer)
      ? new MoE(ld, `${p}.mlp`, cfg)
      : new MLP(ld, `${p}.mlp`, cfg.hiddenSize, cfg.intermediateSize);
  }

  /** h [S,hidden] updated in place for positions P..P+S-1. */
  forward(be: Backend, h: Float32Array, S: number, P: number, cache: LayerCache, path: AttentionPath, hooks?: ForwardHooks): void {
    const D = this.cfg.hiddenSize;
    const eps = this.cfg.rmsNormEps;
    const xn = be.rmsNorm(h, S, D, this.attnNorm, eps);
    const onSelect = hooks?.onSelect ? (s: number, sel: Int32Array | null) => hooks.onSelect!(this.layer, P + s, sel) : undefined;
    const a = this.attn.forward(be, xn, S, P, cache, path, onSelect);
    for (let i = 0; i < S * D; i++) h[i]! += a[i]!;
    const fn = be.rmsNorm(h, S, D, this.ffnNorm, eps);
    const f = this.ffn instanceof MoE
      ? this.ffn.forward(be, fn, S, hooks?.onRoute ? (r) => hooks.onRoute!(this.layer, r) : undefined)
      : this.ffn.forward(be, fn, S);
    for (let i = 0; i < S * D; i++) h[i]! += f[i]!;
  }
}
