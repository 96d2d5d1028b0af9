// Every tensor a config implies, with its HF name and shape (spec §10). Drives parameter counts and
// cache sizes (inspect, plan), synthetic checkpoints (tests, benches) and checkpoint writers.
import { isMoeLayer, type ModelConfig } from './config.js';

export type TensorRole =
  | 'embed' | 'head' | 'norm' // embedding table, output head, norm weights/biases
  | 'attn' | 'indexer' | 'indexer_f32' | 'gate' | 'gate_bias'
  | 'dense_ffn' | 'expert' | 'shared_expert' | 'mtp_proj';

export interface TensorSpec {
  name: string;
  shape: number[];
  role: TensorRole;
  /** an FP8 checkpoint stores it as F8_E4M3 with a weight_scale_inv sibling */
  fp8: boolean;
  /** layer index (numLayers.. for MTP), or -1 for top-level tensors */
  layer: number;
  /** routed expert id, or -1 */
  expert: number;
}

export function layerTensors(cfg: ModelConfig, l: number): TensorSpec[] {
  const p = `model.layers.${l}`;
  const out: TensorSpec[] = [];
  const add = (name: string, shape: number[], role: TensorRole, fp8 = false, expert = -1) =>
    out.push({ name: `${p}.${name}`, shape, role, fp8, layer: l, expert });
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const dqk = cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
  add('input_layernorm.weight', [D], 'norm');
  add('post_attention_layernorm.weight', [D], 'norm');
  if (cfg.qLoraRank !== null) {
    add('self_attn.q_a_proj.weight', [cfg.qLoraRank, D], 'attn', true);
    add('self_attn.q_a_layernorm.weight', [cfg.qLoraRank], 'norm');
    add('self_attn.q_b_proj.weight', [H * dqk, cfg.qLoraRank], 'attn', true);
  } else {
    add('self_attn.q_proj.weight', [H * dqk, D], 'attn', true);
  }
  add('self_attn.kv_a_proj_with_mqa.weight', [cfg.kvLoraRank + cfg.qkRopeHeadDim, D], 'attn', true);
  add('self_attn.kv_a_layernorm.weight', [cfg.kvLoraRank], 'norm');
  add('self_attn.kv_b_proj.weight', [H * (cfg.qkNopeHeadDim + cfg.vHeadDim), cfg.kvLoraRank], 'attn', true);
  add('self_attn.o_proj.weight', [D, H * cfg.vHeadDim], 'attn', true);
  if (cfg.indexer) {
    const ic = cfg.indexer;
    add('self_attn.indexer.wq_b.weight', [ic.nHeads * ic.headDim, cfg.qLoraRank!], 'indexer', true);
    add('self_attn.indexer.wk.weight', [ic.headDim, D], 'indexer', true);
    add('self_attn.indexer.k_norm.weight', [ic.headDim], 'norm');
    add('self_attn.indexer.k_norm.bias', [ic.headDim], 'norm');
    add('self_attn.indexer.weights_proj.weight', [ic.nHeads, D], 'indexer_f32');
  }
  if (isMoeLayer(cfg, l)) {
    const I = cfg.moeIntermediateSize;
    add('mlp.gate.weight', [cfg.nRoutedExperts, D], 'gate');
    add('mlp.gate.e_score_correction_bias', [cfg.nRoutedExperts], 'gate_bias');
    for (let e = 0; e < cfg.nRoutedExperts; e++) {
      add(`mlp.experts.${e}.gate_proj.weight`, [I, D], 'expert', true, e);
      add(`mlp.experts.${e}.up_proj.weight`, [I, D], 'expert', true, e);
      add(`mlp.experts.${e}.down_proj.weight`, [D, I], 'expert', true, e);
    }
    if (cfg.nSharedExperts > 0) {
      const Is = I * cfg.nSharedExperts;
      add('mlp.shared_experts.gate_proj.weight', [Is, D], 'shared_expert', true);
      add('mlp.shared_experts.up_proj.weight', [Is, D], 'shared_expert', true);
      add('mlp.shared_experts.down_proj.weight', [D, Is], 'shared_expert', true);
    }
  } else {
    const I = cfg.intermediateSize;
    add('mlp.gate_proj.weight', [I, D], 'dense_ffn', true);
    add('mlp.up_proj.weight', [I, D], 'dense_ffn', true);
    add('mlp.down_proj.weight', [D, I], 'dense_ffn', true);
  }
  return out;
}

/** MTP layer i: a full block plus its projections; duplicate embed/head included as the checkpoint stores them. */
export function mtpTensors(cfg: ModelConfig, i: number, withDuplicates = true): TensorSpec[] {
  const l = cfg.numLayers + i;
  const p = `model.layers.${l}`;
  const D = cfg.hiddenSize;
  const t = (name: string, shape: number[], role: TensorRole): TensorSpec => ({ name: `${p}.${name}`, shape, role, fp8: false, layer: l, expert: -1 });
  const out = [
    t('enorm.weight', [D], 'norm'),
    t('hnorm.weight', [D], 'norm'),
    t('eh_proj.weight', [D, 2 * D], 'mtp_proj'),
    ...layerTensors(cfg, l),
    t('shared_head.norm.weight', [D], 'norm'),
  ];
  if (withDuplicates) out.push(t('embed_tokens.weight', [cfg.vocabSize, D], 'embed'), t('shared_head.head.weight', [cfg.vocabSize, D], 'head'));
  return out;
}

export function mainTensors(cfg: ModelConfig): TensorSpec[] {
  const top = (name: string, shape: number[], role: TensorRole): TensorSpec => ({ name, shape, role, fp8: false, layer: -1, expert: -1 });
  const out: TensorSpec[] = [top('model.embed_tokens.weight', [cfg.vocabSize, cfg.hiddenSize], 'embed')];
  for (let l = 0; l < cfg.numLayers; l++) out.push(...layerTensors(cfg, l));
  out.push(top('model.norm.weight', [cfg.hiddenSize], 'norm'));
  if (!cfg.tieWordEmbeddings) out.push(top('lm_head.weight', [cfg.vocabSize, cfg.hiddenSize], 'head'));
  return out;
}

export function allTensors(cfg: ModelConfig): TensorSpec[] {
  const out = mainTensors(cfg);
  for (let i = 0; i < cfg.numMtpLayers; i++) out.push(...mtpTensors(cfg, i));
  return out;
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

export interface ParamCounts {
  /** main model (embedding, layers, norm, head) */
  total: number;
  /** main-model parameters touched per token: everything but the routed experts not chosen */
  activated: number;
  /** of which the indexers */
  indexer: number;
  /** the MTP layers, counting their duplicate embedding/head apart */
  mtp: number;
  mtpDuplicates: number;
}

export function countParams(cfg: ModelConfig): ParamCounts {
  let total = 0;
  let experts = 0;
  let indexer = 0;
  for (const t of mainTensors(cfg)) {
    const n = numel(t.shape);
    total += n;
    if (t.role === 'expert') experts += n;
    if (t.layer >= 0 && t.name.includes('.indexer.')) indexer += n;
  }
  const moeLayers = Array.from({ length: cfg.numLayers }, (_, l) => l).filter((l) => isMoeLayer(cfg, l)).length;
  const perExpert = 3 * cfg.hiddenSize * cfg.moeIntermediateSize;
  const activated = total - experts + moeLayers * cfg.expertsPerToken * perExpert;
  let mtp = 0;
  let mtpDuplicates = 0;
  for (let i = 0; i < cfg.numMtpLayers; i++) {
    for (const t of mtpTensors(cfg, i)) {
      if (t.role === 'embed' || t.role === 'head') mtpDuplicates += numel(t.shape);
      else mtp += numel(t.shape);
    }
  }
  return { total, activated, indexer, mtp, mtpDuplicates };
}

/**
 * Cache bytes per token over all main layers in the production formats: MLA latent as FP8 (512 e4m3 +
 * 4 fp32 scales) + bf16 RoPE key = 656 B for V3.2, and the indexer key as 128 e4m3 + an fp32 scale = 132 B.
 */
export function kvBytesPerToken(cfg: ModelConfig, latent: 'fp8' | 'bf16' = 'fp8'): { perLayer: { mla: number; indexer: number }; total: number } {
  const mla = latent === 'fp8'
    ? cfg.kvLoraRank + Math.ceil(cfg.kvLoraRank / 128) * 4 + cfg.qkRopeHeadDim * 2
    : (cfg.kvLoraRank + cfg.qkRopeHeadDim) * 2;
  const indexer = cfg.indexer ? cfg.indexer.headDim + 4 * Math.ceil(cfg.indexer.headDim / 128) : 0;
  return { perLayer: { mla, indexer }, total: (mla + indexer) * cfg.numLayers };
}
