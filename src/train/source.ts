// Where a training run's weights come from: a fresh model from a config (file or preset), or an existing
// MLA checkpoint folder — ours or a user's, F32/BF16/F16 or block-FP8 (dequantised with its
// weight_scale_inv). A deepseek_v3 checkpoint is converted to deepseek_v32 for the DSA stages: its
// config gains model_type deepseek_v32 and the index_* fields, and the indexer weights, which it does
// not have, start from the random initialisation (spec §14: the indexer is the only new part).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from '../formats/checkpoint.js';
import { toFloat32 } from '../formats/dtype.js';
import { ConfigError, loadConfig, type ModelConfig, parseConfig } from '../model/config.js';
import { ParamStore } from './params.js';
import { defaultModelConfig } from './default-model.js';
import { presetConfig } from './presets.js';

export interface TrainSource {
  cfg: ModelConfig;
  params: ParamStore;
  /** what the weights came from, for logs */
  origin: string;
  /** things done to the checkpoint on the way in (conversion, dropped MTP), for logs */
  notes: string[];
}

/** DSA fields added to a deepseek_v3 config (V3.2's own values, scaled down to small models). */
export interface IndexerDefaults {
  nHeads?: number;
  headDim?: number;
  topk?: number;
}

export function presetNames(): string[] {
  return ['dsv32-tiny', 'tiny', 'small'];
}

/** A config object from --preset NAME (dsv32-tiny = the bundled default model's config). */
export function presetRaw(name: string): Record<string, unknown> {
  if (name === 'dsv32-tiny') return defaultModelConfig();
  if (name !== 'tiny' && name !== 'small') throw new Error(`--preset: unknown preset "${name}" (known: ${presetNames().join(', ')})`);
  return presetConfig(name);
}

/** A freshly initialised model from a raw config (index_topk overridden when topk is given). */
export function freshSource(raw: Record<string, unknown>, seed: number, topk?: number, origin = 'random init'): TrainSource {
  const r = topk !== undefined ? { ...raw, index_topk: topk } : raw;
  const cfg = parseConfig(r);
  return { cfg, params: new ParamStore(cfg).initRandom(seed), origin, notes: [] };
}

/** The raw config of deepseek_v3 turned into deepseek_v32 (needs a q LoRA and a 128-multiple kv rank). */
export function convertConfigToV32(raw: Record<string, unknown>, d: IndexerDefaults = {}): Record<string, unknown> {
  const heads = typeof raw.num_attention_heads === 'number' ? raw.num_attention_heads : 1;
  const out: Record<string, unknown> = {
    ...raw,
    model_type: 'deepseek_v32',
    architectures: ['DeepseekV32ForCausalLM'],
    index_n_heads: d.nHeads ?? Math.min(64, heads),
    index_head_dim: d.headDim ?? 128,
    index_topk: d.topk ?? 2048,
  };
  try {
    parseConfig(out);
  } catch (e) {
    if (e instanceof ConfigError) throw new Error(`cannot convert this deepseek_v3 checkpoint to deepseek_v32: ${e.message}`);
    throw e;
  }
  return out;
}

/** A tensor as f32; block-FP8 weights are multiplied by their 128×128 weight_scale_inv blocks. */
function readF32(ck: Checkpoint, name: string, shape: number[]): Float32Array {
  const st = ck.read(name);
  if (st.shape.length !== shape.length || st.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${ck.dir}: tensor "${name}" has shape ${JSON.stringify(st.shape)}, expected ${JSON.stringify(shape)}`);
  }
  if (!['F32', 'BF16', 'F16', 'F8_E4M3'].includes(st.dtype)) throw new Error(`${ck.dir}: tensor "${name}" has dtype ${st.dtype}; training reads F32/BF16/F16/FP8`);
  const w = toFloat32(st);
  if (st.dtype !== 'F8_E4M3') return w;
  const sName = name.replace(/\.weight$/, '.weight_scale_inv');
  if (!ck.has(sName)) throw new Error(`${ck.dir}: FP8 tensor "${name}" has no "${sName}"`);
  const s = toFloat32(ck.read(sName));
  const [N, K] = shape as [number, number];
  const kb = Math.ceil(K / 128);
  if (s.length !== Math.ceil(N / 128) * kb) throw new Error(`${ck.dir}: "${sName}" has ${s.length} scales, expected ${Math.ceil(N / 128) * kb}`);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w[n * K + k]! *= s[(n >> 7) * kb + (k >> 7)]!;
  return w;
}

export interface LoadSourceOptions {
  seed: number;
  /** convert a deepseek_v3 checkpoint (the DSA stages need an indexer) */
  needIndexer: boolean;
  /** set index_topk in the config */
  topk?: number;
  indexer?: IndexerDefaults;
}

/** Weights of an existing checkpoint folder, converted/adjusted as described at the top of the file. */
export function loadSource(dir: string, o: LoadSourceOptions): TrainSource {
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`--model: ${dir} has no config.json (not a model folder)`);
  const base = loadConfig(dir);
  const notes: string[] = [];
  let raw: Record<string, unknown> = { ...base.raw };
  delete raw.quantization_config; // FP8 weights are dequantised on the way in
  const converting = base.modelType === 'deepseek_v3' && o.needIndexer;
  if (converting) {
    raw = convertConfigToV32(raw, { ...o.indexer, topk: o.topk ?? o.indexer?.topk });
    notes.push(`converted deepseek_v3 → deepseek_v32 (indexer: ${raw.index_n_heads} heads × ${raw.index_head_dim}, top-k ${raw.index_topk}; weights initialised)`);
  } else if (o.topk !== undefined) {
    if (base.modelType !== 'deepseek_v32') throw new Error('--topk needs a deepseek_v32 model (the DSA stages convert deepseek_v3 checkpoints)');
    raw.index_topk = o.topk;
  }
  const ck = Checkpoint.open(dir);
  try {
    const L = base.numLayers;
    if (base.numMtpLayers > 0 && !ck.has(`model.layers.${L}.eh_proj.weight`)) {
      raw.num_nextn_predict_layers = 0;
      notes.push('the checkpoint has no MTP weights: trained without the MTP layer');
    }
    const cfg = parseConfig(raw);
    const params = new ParamStore(cfg).initRandom(o.seed);
    let fresh = 0;
    for (const [name, t] of params.byName) {
      if (!ck.has(name)) {
        if (converting && name.includes('.self_attn.indexer.')) { fresh++; continue; }
        throw new Error(`${dir}: checkpoint has no tensor "${name}"`);
      }
      t.data.set(readF32(ck, name, t.shape));
    }
    if (fresh) notes.push(`${fresh} indexer tensors initialised`);
    return { cfg, params, origin: dir, notes };
  } finally {
    ck.close();
  }
}
