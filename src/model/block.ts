// One decoder layer: x + MLA(norm(x)), then + FFN(norm(·)) with a dense MLP or MoE (spec §2).
import type { Backend } from '../kernels/backend.js';
import type { Segment } from './cache.js';
import { isMoeLayer, type ModelConfig } from './config.js';
import { type AttentionPath, MLA } from './mla.js';
import { MLP, MoE, type Routing } from './moe.js';
import type { Rope } from './rope.js';
import type { WeightLoader } from './weights.js';
import type { Workspace } from './workspace.js';

export interface ForwardHooks {
  /**
   * DSA selection of layer `layer` for the query at absolute position `pos` of batch item `seq`
   * (null = every causal key).
   */
  onSelect?: (layer: number, pos: number, sel: Int32Array | null, seq: number) => void;
  onRoute?: (layer: number, r: Routing) => void;
}

export class Block {
  readonly attnNorm: Float32Array;
  readonly ffnNorm: Float32Array;
  readonly attn: MLA;
  readonly ffn: MLP | MoE;

  constructor(ld: WeightLoader, readonly layer: number, readonly cfg: ModelConfig, rope: Rope, private readonly ws: Workspace) {
    const p = `model.layers.${layer}`;
    this.attnNorm = ld.vector(`${p}.input_layernorm.weight`, cfg.hiddenSize);
    this.ffnNorm = ld.vector(`${p}.post_attention_layernorm.weight`, cfg.hiddenSize);
    this.attn = new MLA(ld, `${p}.self_attn`, cfg, rope, ws);
    this.ffn = isMoeLayer(cfg, layer)
      ? new MoE(ld, `${p}.mlp`, cfg, ws)
      : new MLP(ld, `${p}.mlp`, cfg.hiddenSize, cfg.intermediateSize, ws);
  }

  /** h [N,hidden] updated in place; segs say which rows belong to which sequence and position. */
  forward(be: Backend, h: Float32Array, N: number, segs: readonly Segment[], path: AttentionPath, hooks?: ForwardHooks): void {
    const D = this.cfg.hiddenSize;
    const eps = this.cfg.rmsNormEps;
    const xn = be.rmsNorm(h, N, D, this.attnNorm, eps, this.ws.f32('block.xn', N * D));
    let onSelect: ((row: number, sel: Int32Array | null) => void) | undefined;
    if (hooks?.onSelect) {
      const seqOf = new Int32Array(N);
      segs.forEach((g, i) => seqOf.fill(i, g.row, g.row + g.S));
      onSelect = (row, sel) => { const g = segs[seqOf[row]!]!; hooks.onSelect!(this.layer, g.P + row - g.row, sel, seqOf[row]!); };
    }
    const a = this.attn.forward(be, xn, N, segs, path, onSelect);
    for (let i = 0; i < N * D; i++) h[i]! += a[i]!;
    const fn = be.rmsNorm(h, N, D, this.ffnNorm, eps, this.ws.f32('block.xn', N * D));
    const f = this.ffn instanceof MoE
      ? this.ffn.forward(be, fn, N, hooks?.onRoute ? (r) => hooks.onRoute!(this.layer, r) : undefined)
      : this.ffn.forward(be, fn, N);
    for (let i = 0; i < N * D; i++) h[i]! += f[i]!;
  }
}
