// What every block of one forward pass shares: config, parameters, RoPE table, the [B, S] layout of
// the rows, the training stage, and the side outputs (indexer KL terms, balance terms, expert loads).
import type { ModelConfig } from '../../model/config.js';
import type { Tensor } from '../autograd/tensor.js';
import type { RopeTable } from '../ops/yarn.js';
import type { ParamStore, TrainMode } from '../params.js';

export interface ForwardContext {
  cfg: ModelConfig;
  params: ParamStore;
  rope: RopeTable;
  /** B sequences of S positions; activations are [B·S, width] */
  B: number;
  S: number;
  mode: TrainMode;
  /** one indexer KL(p ‖ softmax(I)) per layer that ran its indexer */
  kl: Tensor[];
  /** one sequence-wise balance loss (α = 1) per MoE layer */
  balance: Tensor[];
  /** tokens routed to each expert, per MoE layer index */
  loads: Map<number, Int32Array>;
}

export function layerParam(ctx: ForwardContext, layer: number, name: string): Tensor {
  return ctx.params.get(`model.layers.${layer}.${name}`);
}
