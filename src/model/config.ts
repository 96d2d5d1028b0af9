// Hugging Face config.json → ModelConfig, for deepseek_v32 (MLA + lightning indexer) and deepseek_v3
// (the same model with dense attention: V3, V3.1, R1, Kimi-K2, Moonlight). Every error names the field.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface RopeScaling {
  type: 'yarn';
  factor: number;
  originalMaxPositions: number;
  betaFast: number;
  betaSlow: number;
  mscale: number;
  mscaleAllDim: number;
}

export interface IndexerConfig {
  nHeads: number;
  headDim: number;
  topk: number;
}

export interface QuantConfig {
  fmt: 'e4m3';
  blockSize: [number, number];
  scaleFmt: string | null;
  /** FP8 linears quantise their input per 128 (dynamic activation scheme), as the reference's fp8_gemm. */
  activationQuant: boolean;
}

export interface ModelConfig {
  modelType: 'deepseek_v32' | 'deepseek_v3';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  moeIntermediateSize: number;
  numLayers: number;
  firstKDense: number;
  moeLayerFreq: number;
  numHeads: number;
  nRoutedExperts: number;
  nSharedExperts: number;
  expertsPerToken: number;
  nGroup: number;
  topkGroup: number;
  scoringFunc: 'sigmoid' | 'softmax';
  normTopkProb: boolean;
  routedScalingFactor: number;
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositions: number;
  rmsNormEps: number;
  indexer: IndexerConfig | null;
  numMtpLayers: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number;
  eosTokenId: number;
  quant: QuantConfig | null;
  torchDtype: string;
  /** The raw JSON, kept for writing checkpoints back unchanged. */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function field(raw: Json, key: string): unknown {
  return raw[key];
}

function int(raw: Json, key: string, opts: { min?: number; def?: number } = {}): number {
  let v = field(raw, key);
  if (v === undefined || v === null) {
    if (opts.def !== undefined) return opts.def;
    throw new ConfigError(`config: missing required field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`config: field "${key}" must be an integer (got ${JSON.stringify(v)})`);
  const min = opts.min ?? 1;
  if (v < min) throw new ConfigError(`config: field "${key}" must be ≥ ${min} (got ${v})`);
  return v;
}

function num(raw: Json, key: string, def?: number): number {
  const v = field(raw, key);
  if (v === undefined || v === null) {
    if (def !== undefined) return def;
    throw new ConfigError(`config: missing required field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`config: field "${key}" must be a finite number (got ${JSON.stringify(v)})`);
  return v;
}

function bool(raw: Json, key: string, def: boolean): boolean {
  const v = field(raw, key);
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw new ConfigError(`config: field "${key}" must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

export function parseConfig(raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config: expected a JSON object');
  const r = raw as Json;
  const modelType = r.model_type;
  if (modelType !== 'deepseek_v32' && modelType !== 'deepseek_v3') {
    throw new ConfigError(`config: field "model_type" must be "deepseek_v32" or "deepseek_v3" (got ${JSON.stringify(modelType)})`);
  }
  const hiddenSize = int(r, 'hidden_size');
  const numHeads = int(r, 'num_attention_heads');
  const nRoutedExperts = int(r, 'n_routed_experts', { min: 0, def: 0 });
  const nGroup = int(r, 'n_group', { def: 1 });
  const topkGroup = int(r, 'topk_group', { def: nGroup });
  const expertsPerToken = int(r, 'num_experts_per_tok', { min: nRoutedExperts ? 1 : 0, def: 0 });
  const qkRopeHeadDim = int(r, 'qk_rope_head_dim');
  const kvLoraRank = int(r, 'kv_lora_rank');
  const scoring = (field(r, 'scoring_func') ?? 'softmax') as string;
  if (scoring !== 'sigmoid' && scoring !== 'softmax') throw new ConfigError(`config: field "scoring_func" must be "sigmoid" or "softmax" (got ${JSON.stringify(scoring)})`);
  const qLoraRaw = field(r, 'q_lora_rank');
  const qLoraRank = qLoraRaw === null || qLoraRaw === undefined ? null : int(r, 'q_lora_rank');

  if (qkRopeHeadDim % 2) throw new ConfigError(`config: field "qk_rope_head_dim" must be even (got ${qkRopeHeadDim})`);
  if (nRoutedExperts) {
    if (nRoutedExperts % nGroup) throw new ConfigError(`config: field "n_routed_experts" (${nRoutedExperts}) must be divisible by "n_group" (${nGroup})`);
    if (topkGroup > nGroup) throw new ConfigError(`config: field "topk_group" (${topkGroup}) must be ≤ "n_group" (${nGroup})`);
    if (expertsPerToken > nRoutedExperts) throw new ConfigError(`config: field "num_experts_per_tok" (${expertsPerToken}) must be ≤ "n_routed_experts" (${nRoutedExperts})`);
    if (expertsPerToken > (nRoutedExperts / nGroup) * topkGroup) {
      throw new ConfigError(`config: field "num_experts_per_tok" (${expertsPerToken}) exceeds the experts in "topk_group" groups (${(nRoutedExperts / nGroup) * topkGroup})`);
    }
  }

  let ropeScaling: RopeScaling | null = null;
  const rs = field(r, 'rope_scaling');
  if (rs !== undefined && rs !== null) {
    if (typeof rs !== 'object') throw new ConfigError('config: field "rope_scaling" must be an object or null');
    const s = rs as Json;
    const type = s.type ?? s.rope_type;
    if (type !== 'yarn') throw new ConfigError(`config: field "rope_scaling.type" must be "yarn" (got ${JSON.stringify(type)})`);
    const factor = num(s, 'factor');
    if (factor < 1) throw new ConfigError(`config: field "rope_scaling.factor" must be ≥ 1 (got ${factor})`);
    ropeScaling = {
      type: 'yarn',
      factor,
      originalMaxPositions: int(s, 'original_max_position_embeddings', { def: 4096 }),
      betaFast: num(s, 'beta_fast', 32),
      betaSlow: num(s, 'beta_slow', 1),
      mscale: num(s, 'mscale', 1),
      mscaleAllDim: num(s, 'mscale_all_dim', 0),
    };
  }

  let indexer: IndexerConfig | null = null;
  if (modelType === 'deepseek_v32') {
    indexer = {
      nHeads: int(r, 'index_n_heads'),
      headDim: int(r, 'index_head_dim'),
      topk: int(r, 'index_topk'),
    };
    if (indexer.headDim & (indexer.headDim - 1)) throw new ConfigError(`config: field "index_head_dim" must be a power of two for the Hadamard rotation (got ${indexer.headDim})`);
    if (indexer.headDim < qkRopeHeadDim) throw new ConfigError(`config: field "index_head_dim" (${indexer.headDim}) must be ≥ "qk_rope_head_dim" (${qkRopeHeadDim})`);
    if (indexer.headDim % 128) throw new ConfigError(`config: field "index_head_dim" must be a multiple of 128 (FP8 groups; got ${indexer.headDim})`);
    if (kvLoraRank % 128) throw new ConfigError(`config: field "kv_lora_rank" must be a multiple of 128 for the FP8 latent cache (got ${kvLoraRank})`);
    if (qLoraRank === null) throw new ConfigError('config: field "q_lora_rank" must be set for deepseek_v32 (the indexer reads the q latent)');
  }

  let quant: QuantConfig | null = null;
  const qc = field(r, 'quantization_config');
  if (qc !== undefined && qc !== null) {
    if (typeof qc !== 'object') throw new ConfigError('config: field "quantization_config" must be an object');
    const q = qc as Json;
    if (q.quant_method !== 'fp8') throw new ConfigError(`config: field "quantization_config.quant_method" must be "fp8" (got ${JSON.stringify(q.quant_method)})`);
    if (q.fmt !== undefined && q.fmt !== 'e4m3') throw new ConfigError(`config: field "quantization_config.fmt" must be "e4m3" (got ${JSON.stringify(q.fmt)})`);
    const bs = q.weight_block_size ?? [128, 128];
    if (!Array.isArray(bs) || bs.length !== 2 || bs[0] !== 128 || bs[1] !== 128) {
      throw new ConfigError(`config: field "quantization_config.weight_block_size" must be [128, 128] (got ${JSON.stringify(bs)})`);
    }
    quant = {
      fmt: 'e4m3',
      blockSize: [128, 128],
      scaleFmt: typeof q.scale_fmt === 'string' ? q.scale_fmt : null,
      activationQuant: (q.activation_scheme ?? 'dynamic') === 'dynamic',
    };
  }

  const numLayers = int(r, 'num_hidden_layers');
  const cfg: ModelConfig = {
    modelType,
    vocabSize: int(r, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(r, 'intermediate_size'),
    moeIntermediateSize: int(r, 'moe_intermediate_size', { def: 0, min: nRoutedExperts ? 1 : 0 }),
    numLayers,
    firstKDense: int(r, 'first_k_dense_replace', { min: 0, def: 0 }),
    moeLayerFreq: int(r, 'moe_layer_freq', { def: 1 }),
    numHeads,
    nRoutedExperts,
    nSharedExperts: int(r, 'n_shared_experts', { min: 0, def: 0 }),
    expertsPerToken,
    nGroup,
    topkGroup,
    scoringFunc: scoring,
    normTopkProb: bool(r, 'norm_topk_prob', scoring === 'sigmoid'),
    routedScalingFactor: num(r, 'routed_scaling_factor', 1),
    qLoraRank,
    kvLoraRank,
    qkNopeHeadDim: int(r, 'qk_nope_head_dim'),
    qkRopeHeadDim,
    vHeadDim: int(r, 'v_head_dim'),
    ropeTheta: num(r, 'rope_theta', 10000),
    ropeScaling,
    maxPositions: int(r, 'max_position_embeddings', { def: 4096 }),
    rmsNormEps: num(r, 'rms_norm_eps', 1e-6),
    indexer,
    numMtpLayers: int(r, 'num_nextn_predict_layers', { min: 0, def: 0 }),
    tieWordEmbeddings: bool(r, 'tie_word_embeddings', false),
    bosTokenId: int(r, 'bos_token_id', { min: 0, def: 0 }),
    eosTokenId: eosOf(r),
    quant,
    torchDtype: typeof r.torch_dtype === 'string' ? r.torch_dtype : 'bfloat16',
    raw: r,
  };
  if (cfg.firstKDense > numLayers) throw new ConfigError(`config: field "first_k_dense_replace" (${cfg.firstKDense}) exceeds "num_hidden_layers" (${numLayers})`);
  return cfg;
}

function eosOf(r: Json): number {
  const v = r.eos_token_id;
  if (Array.isArray(v)) {
    if (!v.length || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new ConfigError(`config: field "eos_token_id" must be a non-negative integer (got ${JSON.stringify(v)})`);
    return v[0] as number;
  }
  return int(r, 'eos_token_id', { min: 0, def: 1 });
}

/** Reads config.json from a folder or a file path. */
export function loadConfig(pathOrDir: string): ModelConfig {
  const p = existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'config.json') : pathOrDir;
  if (!existsSync(p)) throw new ConfigError(`${p}: no such file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${p}: not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${p}: ${e.message}`);
    throw e;
  }
}

/** Whether layer `l` of the main stack (or the MTP layer, l ≥ numLayers) has a MoE FFN. */
export function isMoeLayer(cfg: ModelConfig, l: number): boolean {
  return cfg.nRoutedExperts > 0 && l >= cfg.firstKDense && l % cfg.moeLayerFreq === 0;
}

export function qkHeadDim(cfg: ModelConfig): number {
  return cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
}
