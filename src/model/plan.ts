// "What does this model need and cost?" from a config alone: weight bytes per storage format, cache
// bytes, parameter counts, and per-token FLOPs / decode bytes read at a position, dense attention vs
// DSA (spec §5–§8, §14). Only matmuls count as FLOPs (2·in·out per token); norms, RoPE, softmax,
// Hadamard and top-k selection are left out — they are a fraction of a percent.
//
// Position convention: `pos` = tokens already in the cache; the token at `pos` attends to pos+1 keys
// (dense) or min(pos+1, index_topk) keys (DSA), and its indexer scores all pos+1 keys.
// "dense" means the same model with the indexer removed (V3.1-Terminus vs V3.2-Exp in the report);
// for deepseek_v3 configs there is no indexer and DSA = dense.
import { isMoeLayer, type ModelConfig } from './config.js';
import { countParams, kvBytesPerToken, mainTensors, mtpTensors, type TensorSpec } from './manifest.js';

export const WEIGHT_DTYPES = ['fp8', 'bf16', 'f32', 'q8'] as const;
export const CACHE_DTYPES = ['fp8', 'bf16'] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];
export type CacheDtype = (typeof CACHE_DTYPES)[number];
export type AttentionKind = 'dense' | 'dsa';
export type Phase = 'prefill' | 'decode';

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** Bytes keyed by safetensors dtype name (F8_E4M3, F32, BF16, I8, F16). */
export type BytesByFormat = Record<string, number>;

export interface WeightBreakdown {
  total: number;
  byFormat: BytesByFormat;
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

function add(acc: BytesByFormat, rec: BytesByFormat, scale = 1): void {
  for (const [k, v] of Object.entries(rec)) acc[k] = (acc[k] ?? 0) + v * scale;
}

function matrixShape(t: TensorSpec): [number, number] {
  if (t.shape.length !== 2) throw new PlanError(`${t.name}: expected a 2-D weight for block quantisation (shape ${JSON.stringify(t.shape)})`);
  return [t.shape[0]!, t.shape[1]!];
}

/**
 * How one tensor is stored in a release of the given dtype:
 * - fp8: the tensors an FP8 release stores as F8_E4M3 (manifest `fp8`) + fp32 scales per 128×128 block; the rest BF16;
 * - q8: the same tensors as llama.cpp Q8_0 (int8 + an f16 scale per 32 along the input dim); the rest BF16;
 * - bf16 / f32: everything in that format.
 * The router's correction bias stays F32 in every release (the FP8→BF16 converters leave it alone).
 */
export function tensorBytes(t: TensorSpec, dtype: WeightDtype): BytesByFormat {
  const n = numel(t.shape);
  if (dtype === 'f32' || t.role === 'gate_bias') return { F32: 4 * n };
  if (dtype === 'bf16' || !t.fp8) return { BF16: 2 * n };
  const [out, inp] = matrixShape(t);
  if (dtype === 'fp8') return { F8_E4M3: n, F32: 4 * Math.ceil(out / 128) * Math.ceil(inp / 128) };
  const blocks = out * Math.ceil(inp / 32);
  return { I8: 32 * blocks, F16: 2 * blocks };
}

function breakdown(tensors: TensorSpec[], dtype: WeightDtype): WeightBreakdown {
  const byFormat: BytesByFormat = {};
  for (const t of tensors) add(byFormat, tensorBytes(t, dtype));
  return { total: Object.values(byFormat).reduce((a, b) => a + b, 0), byFormat };
}

export interface WeightsBytes {
  dtype: WeightDtype;
  main: WeightBreakdown;
  /** the MTP layers as a checkpoint stores them, including the duplicated embedding/head (`duplicates`) */
  mtp: WeightBreakdown & { duplicates: number };
}

export function weightsBytes(cfg: ModelConfig, dtype: WeightDtype): WeightsBytes {
  const mtpAll: TensorSpec[] = [];
  for (let i = 0; i < cfg.numMtpLayers; i++) mtpAll.push(...mtpTensors(cfg, i));
  const dup = breakdown(mtpAll.filter((t) => t.role === 'embed' || t.role === 'head'), dtype);
  return { dtype, main: breakdown(mainTensors(cfg), dtype), mtp: { ...breakdown(mtpAll, dtype), duplicates: dup.total } };
}

/**
 * Main-model weight bytes one decode token reads: every tensor except the routed experts not chosen
 * (k of n per MoE layer) and the embedding table (one row is gathered). `withIndexer` false drops the
 * indexers (the dense-attention model).
 */
export function activatedWeightBytes(cfg: ModelConfig, dtype: WeightDtype, withIndexer = true): number {
  // memoised: a cost curve asks for it at every position, and a 671B config has ~45K tensors
  let memo = activatedMemo.get(cfg);
  if (!memo) activatedMemo.set(cfg, (memo = new Map()));
  const key = `${dtype}/${withIndexer}`;
  let v = memo.get(key);
  if (v === undefined) memo.set(key, (v = sumActivatedBytes(cfg, dtype, withIndexer)));
  return v;
}

const activatedMemo = new WeakMap<ModelConfig, Map<string, number>>();

function sumActivatedBytes(cfg: ModelConfig, dtype: WeightDtype, withIndexer: boolean): number {
  let bytes = 0;
  const share = cfg.nRoutedExperts ? cfg.expertsPerToken / cfg.nRoutedExperts : 0;
  for (const t of mainTensors(cfg)) {
    if (!withIndexer && t.name.includes('.indexer.')) continue;
    const b = Object.values(tensorBytes(t, dtype)).reduce((a, c) => a + c, 0);
    if (t.role === 'embed') bytes += b / t.shape[0]!;
    else if (t.role === 'expert') bytes += b * share;
    else bytes += b;
  }
  return bytes;
}

export interface CacheBytesPerToken {
  /** per layer: the MLA latent + RoPE key, and the indexer key (0 without an indexer) */
  perLayer: { mla: number; indexer: number };
  /** over all main layers */
  total: number;
  /** the MTP layers' own caches, apart */
  mtp: number;
}

/**
 * Cache bytes per token. fp8 = the production formats: latent as 512 e4m3 + fp32 scale per 128 + bf16
 * RoPE key (656 B for V3.2), indexer key as e4m3 + fp32 scale per 128 (132 B). bf16: both in bf16.
 */
export function cacheBytesPerToken(cfg: ModelConfig, kv: CacheDtype): CacheBytesPerToken {
  const mla = kvBytesPerToken(cfg, kv).perLayer.mla;
  const d = cfg.indexer?.headDim ?? 0;
  const indexer = kv === 'fp8' ? d + 4 * Math.ceil(d / 128) : 2 * d;
  return { perLayer: { mla, indexer }, total: (mla + indexer) * cfg.numLayers, mtp: (mla + indexer) * cfg.numMtpLayers };
}

/** Matmul FLOPs of one token, by part, summed over the main layers. */
export interface FlopsBreakdown {
  /** q, kv_a, o projections and kv_b (prefill: expanding this token's latent; decode: the absorption matmuls) */
  attnProj: number;
  /** scores + weighted values over the attended keys */
  attnCore: number;
  /** indexer wq_b, wk, weights_proj */
  indexerProj: number;
  /** indexer scoring against every cached key: 2·index_n_heads·index_head_dim per key */
  indexerScore: number;
  /** dense MLP, or MoE router + activated experts + shared experts */
  ffn: number;
  lmHead: number;
  total: number;
}

function checkPos(pos: number): void {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new PlanError(`position must be a non-negative integer (got ${pos})`);
}

/** Keys the token at `pos` attends to. */
export function attendedKeys(cfg: ModelConfig, pos: number, attn: AttentionKind): number {
  checkPos(pos);
  return attn === 'dsa' && cfg.indexer ? Math.min(pos + 1, cfg.indexer.topk) : pos + 1;
}

export function flopsPerToken(cfg: ModelConfig, pos: number, phase: Phase, attn: AttentionKind): FlopsBreakdown {
  checkPos(pos);
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const dqk = cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
  const r = cfg.kvLoraRank;
  const mm = (i: number, o: number) => 2 * i * o;

  const qProj = cfg.qLoraRank === null ? mm(D, H * dqk) : mm(D, cfg.qLoraRank) + mm(cfg.qLoraRank, H * dqk);
  // kv_b's FLOPs are the same in both modes: prefill expands this token's latent into k_nope and v;
  // decode absorbs W_UK into the query and W_UV into the output instead.
  const perLayerProj = qProj + mm(D, r + cfg.qkRopeHeadDim) + mm(r, H * (cfg.qkNopeHeadDim + cfg.vHeadDim)) + mm(H * cfg.vHeadDim, D);
  const keys = attendedKeys(cfg, pos, attn);
  // prefill = MHA mode over 192-wide q·k and 128-wide values; decode = MQA mode over the 576-wide
  // cached row (latent + RoPE key) for scores and the 512-wide latent for values.
  const perKeyPerHead = phase === 'prefill' ? 2 * dqk + 2 * cfg.vHeadDim : 2 * (r + cfg.qkRopeHeadDim) + 2 * r;

  const ic = attn === 'dsa' ? cfg.indexer : null;
  const indexerProj = ic ? mm(cfg.qLoraRank!, ic.nHeads * ic.headDim) + mm(D, ic.headDim) + mm(D, ic.nHeads) : 0;
  const indexerScore = ic ? (pos + 1) * 2 * ic.nHeads * ic.headDim : 0;

  let ffn = 0;
  for (let l = 0; l < cfg.numLayers; l++) {
    if (isMoeLayer(cfg, l)) {
      const I = cfg.moeIntermediateSize;
      ffn += mm(D, cfg.nRoutedExperts) + (cfg.expertsPerToken + cfg.nSharedExperts) * 3 * mm(D, I);
    } else {
      ffn += 3 * mm(D, cfg.intermediateSize);
    }
  }
  const L = cfg.numLayers;
  const b: Omit<FlopsBreakdown, 'total'> = {
    attnProj: L * perLayerProj,
    attnCore: L * keys * H * perKeyPerHead,
    indexerProj: L * indexerProj,
    indexerScore: L * indexerScore,
    ffn,
    lmHead: mm(D, cfg.vocabSize),
  };
  return { ...b, total: b.attnProj + b.attnCore + b.indexerProj + b.indexerScore + b.ffn + b.lmHead };
}

export interface DecodeBytes {
  weights: number;
  cache: number;
  total: number;
}

/**
 * Bytes one decode token reads at `pos` (batch 1): activated weights + cache rows. Dense reads every
 * latent row; DSA reads every indexer key but only the top-k latent rows. On a CPU decode is
 * bandwidth-bound, so this sets decode speed.
 */
export function decodeBytesPerToken(cfg: ModelConfig, pos: number, attn: AttentionKind, dtype: WeightDtype, kv: CacheDtype): DecodeBytes {
  checkPos(pos);
  const c = cacheBytesPerToken(cfg, kv);
  const dsa = attn === 'dsa' && cfg.indexer !== null;
  const weights = activatedWeightBytes(cfg, dtype, dsa);
  const rows = attendedKeys(cfg, pos, attn) * c.perLayer.mla + (dsa ? (pos + 1) * c.perLayer.indexer : 0);
  const cache = cfg.numLayers * rows;
  return { weights, cache, total: weights + cache };
}

export interface CostPoint {
  position: number;
  prefill: { dense: number; dsa: number };
  decode: { dense: number; dsa: number };
  decodeBytes: { dense: number; dsa: number };
}

/** FLOPs and decode bytes per token at each position: the data of the tech report's cost figure. */
export function costCurve(cfg: ModelConfig, positions: number[], dtype: WeightDtype, kv: CacheDtype): CostPoint[] {
  return positions.map((p) => ({
    position: p,
    prefill: { dense: flopsPerToken(cfg, p, 'prefill', 'dense').total, dsa: flopsPerToken(cfg, p, 'prefill', 'dsa').total },
    decode: { dense: flopsPerToken(cfg, p, 'decode', 'dense').total, dsa: flopsPerToken(cfg, p, 'decode', 'dsa').total },
    decodeBytes: { dense: decodeBytesPerToken(cfg, p, 'dense', dtype, kv).total, dsa: decodeBytesPerToken(cfg, p, 'dsa', dtype, kv).total },
  }));
}

export interface PlanOptions {
  weights: WeightDtype;
  kv: CacheDtype;
  /** tokens in the cache; also the position the per-token figures are given at */
  context: number;
  batch: number;
}

export interface Plan {
  modelType: ModelConfig['modelType'];
  options: PlanOptions;
  params: {
    total: number;
    /** per token, without the embedding lookup (what the matmuls touch; includes the indexers) */
    activated: number;
    /** countParams' figure: with the embedding table */
    activatedWithEmbedding: number;
    indexer: number;
    mtp: number;
    mtpDuplicates: number;
  };
  weights: WeightsBytes;
  cachePerToken: CacheBytesPerToken;
  /** the whole context × batch, main layers */
  cache: { context: number; batch: number; mla: number; indexer: number; total: number; mtp: number };
  flops: Record<Phase, Record<AttentionKind, FlopsBreakdown>> & { position: number };
  decodeBytes: Record<AttentionKind, DecodeBytes>;
  warnings: string[];
}

export function planModel(cfg: ModelConfig, o: PlanOptions): Plan {
  if (!(WEIGHT_DTYPES as readonly string[]).includes(o.weights)) throw new PlanError(`weight dtype must be one of ${WEIGHT_DTYPES.join(', ')} (got ${JSON.stringify(o.weights)})`);
  if (!(CACHE_DTYPES as readonly string[]).includes(o.kv)) throw new PlanError(`cache dtype must be one of ${CACHE_DTYPES.join(', ')} (got ${JSON.stringify(o.kv)})`);
  if (!Number.isSafeInteger(o.context) || o.context < 0) throw new PlanError(`context must be a non-negative integer (got ${o.context})`);
  if (!Number.isSafeInteger(o.batch) || o.batch < 1) throw new PlanError(`batch must be a positive integer (got ${o.batch})`);
  const warnings: string[] = [];
  // Beyond the trained positions the figures are arithmetic only: allowed, but said.
  if (o.context >= cfg.maxPositions) warnings.push(`context ${o.context} is at or beyond max_position_embeddings (${cfg.maxPositions}); the model was not trained there — figures are extrapolated`);

  const p = countParams(cfg);
  const c = cacheBytesPerToken(cfg, o.kv);
  const n = o.context * o.batch;
  const flops = (phase: Phase) => ({ dense: flopsPerToken(cfg, o.context, phase, 'dense'), dsa: flopsPerToken(cfg, o.context, phase, 'dsa') });
  return {
    modelType: cfg.modelType,
    options: { ...o },
    params: {
      total: p.total,
      activated: p.activated - cfg.vocabSize * cfg.hiddenSize,
      activatedWithEmbedding: p.activated,
      indexer: p.indexer,
      mtp: p.mtp,
      mtpDuplicates: p.mtpDuplicates,
    },
    weights: weightsBytes(cfg, o.weights),
    cachePerToken: c,
    cache: {
      context: o.context,
      batch: o.batch,
      mla: n * c.perLayer.mla * cfg.numLayers,
      indexer: n * c.perLayer.indexer * cfg.numLayers,
      total: n * c.total,
      mtp: n * c.mtp,
    },
    flops: { prefill: flops('prefill'), decode: flops('decode'), position: o.context },
    decodeBytes: {
      dense: decodeBytesPerToken(cfg, o.context, 'dense', o.weights, o.kv),
      dsa: decodeBytesPerToken(cfg, o.context, 'dsa', o.weights, o.kv),
    },
    warnings,
  };
}
