// dsv32 export-gguf: a Hugging Face DeepSeek checkpoint → one GGUF file in llama.cpp's layout, so llama.cpp
// runs the very same weights (the benchmark's fairness check). Follows convert_hf_to_gguf.py's DeepseekV2Model
// and DeepseekV32Model: architecture `deepseek2` (deepseek_v3, dense MLA) or `deepseek32` (with the lightning
// indexer), kv_b_proj split into per-head attn_k_b (transposed) and attn_v_b, routed experts stacked into one
// 3-D tensor per projection, MTP layers left out. FP8 weights are dequantised with their 128×128 block scales
// first; norms and the router bias stay F32.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Checkpoint } from '../../formats/checkpoint.js';
import { decodeInto, toFloat32 } from '../../formats/dtype.js';
import { encodeTensor, type GgmlType, gguf, type GgufTensor, type GgufValue, Q8_0_BLOCK, writeGguf } from '../../formats/gguf.js';
import { numel } from '../../formats/safetensors.js';
import { isMoeLayer, loadConfig, type ModelConfig } from '../../model/config.js';

export type ExportType = 'q8_0' | 'bf16' | 'f16' | 'f32';
const TYPE_OF: Record<ExportType, GgmlType> = { q8_0: 'Q8_0', bf16: 'BF16', f16: 'F16', f32: 'F32' };
/** llama_ftype of general.file_type */
const FILE_TYPE: Record<ExportType, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

export interface ExportOptions {
  type?: ExportType;
  onTensor?: (done: number, total: number) => void;
}

export interface ExportReport {
  arch: 'deepseek2' | 'deepseek32';
  file: string;
  bytes: number;
  tensors: number;
  /** tensors written in another type than asked (Q8_0 needs rows of a multiple of 32) */
  fallbacks: { name: string; type: GgmlType }[];
  vocab: 'tokenizer.json' | 'byte-level placeholder';
}

export function ggufArch(cfg: ModelConfig): 'deepseek2' | 'deepseek32' {
  return cfg.modelType === 'deepseek_v32' ? 'deepseek32' : 'deepseek2';
}

// ---- tokenizer -----------------------------------------------------------------------------------------

/** llama_token_type */
const TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

export interface GgufVocab {
  source: ExportReport['vocab'];
  pre: string;
  tokens: string[];
  types: number[];
  merges: string[];
  addBos: boolean;
}

/** GPT-2's byte → printable character map (what byte-level BPE vocabularies are written in). */
function byteChars(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return out;
}

/** tokenizer.json's pre-tokenizer is DeepSeek-V3's (digits in 1–3, CJK runs, then the GPT-4-like split)? */
function isDeepseekV3Pre(pre: unknown): boolean {
  const p = pre as { type?: string; pretokenizers?: { pattern?: { Regex?: string } }[] } | null;
  if (!p || p.type !== 'Sequence' || !Array.isArray(p.pretokenizers)) return false;
  const rx = p.pretokenizers.map((x) => x.pattern?.Regex);
  return rx[0] === '\\p{N}{1,3}' && rx[1] === '[一-龥぀-ゟ゠-ヿ]+';
}

/**
 * The model's tokenizer.json as GGUF vocabulary (gpt2-style BPE: tokens by id, token types, merges), padded
 * to vocab_size. A folder without tokenizer.json (random test checkpoints) gets a placeholder byte-level
 * vocabulary: BOS/EOS as control tokens, the 256 byte characters, then unused [PADn] ids — enough for
 * llama.cpp to load the model and evaluate token ids.
 */
export function ggufVocab(dir: string, cfg: ModelConfig): GgufVocab {
  const V = cfg.vocabSize;
  const tokens = new Array<string | undefined>(V);
  const types = new Array<number>(V).fill(TOKEN_TYPE.unused);
  const tj = join(dir, 'tokenizer.json');
  if (!existsSync(tj)) {
    const bytes = byteChars();
    let b = 0;
    for (let i = 0; i < V; i++) {
      if (i === cfg.bosTokenId) { tokens[i] = '<|begin_of_sentence|>'; types[i] = TOKEN_TYPE.control; }
      else if (i === cfg.eosTokenId) { tokens[i] = '<|end_of_sentence|>'; types[i] = TOKEN_TYPE.control; }
      else if (b < 256) { tokens[i] = bytes[b++]!; types[i] = TOKEN_TYPE.normal; }
    }
    return { source: 'byte-level placeholder', pre: 'default', tokens: fillPads(tokens), types, merges: [], addBos: false };
  }
  const j = JSON.parse(readFileSync(tj, 'utf8')) as {
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
    pre_tokenizer?: unknown;
  };
  if (j.model?.type !== 'BPE' || !j.model.vocab) throw new Error(`${tj}: only byte-level BPE tokenizers can be exported (model.type is ${JSON.stringify(j.model?.type)})`);
  for (const [tok, id] of Object.entries(j.model.vocab)) {
    if (id >= V) throw new Error(`${tj}: token id ${id} is outside vocab_size ${V}`);
    tokens[id] = tok;
    types[id] = TOKEN_TYPE.normal;
  }
  for (const t of j.added_tokens ?? []) {
    if (t.id >= V) throw new Error(`${tj}: added token id ${t.id} is outside vocab_size ${V}`);
    tokens[t.id] = t.content;
    types[t.id] = t.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  const merges = (j.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  let addBos = false;
  const tc = join(dir, 'tokenizer_config.json');
  if (existsSync(tc)) addBos = (JSON.parse(readFileSync(tc, 'utf8')) as { add_bos_token?: boolean }).add_bos_token === true;
  return { source: 'tokenizer.json', pre: isDeepseekV3Pre(j.pre_tokenizer) ? 'deepseek-v3' : 'default', tokens: fillPads(tokens), types, merges, addBos };
}

function fillPads(tokens: (string | undefined)[]): string[] {
  return Array.from(tokens, (t, i) => t ?? `[PAD${i}]`); // map() would skip the holes
}

// ---- metadata ---------------------------------------------------------------------------------------------

export function ggufMetadata(cfg: ModelConfig, vocab: GgufVocab, name: string, type: ExportType): [string, GgufValue][] {
  const arch = ggufArch(cfg);
  const m: [string, GgufValue][] = [];
  const a = (k: string, v: GgufValue) => m.push([`${arch}.${k}`, v]);
  m.push(['general.architecture', gguf.str(arch)]);
  m.push(['general.name', gguf.str(name)]);
  m.push(['general.file_type', gguf.u32(FILE_TYPE[type])]);
  a('block_count', gguf.u32(cfg.numLayers));
  a('context_length', gguf.u32(cfg.maxPositions));
  a('embedding_length', gguf.u32(cfg.hiddenSize));
  a('feed_forward_length', gguf.u32(cfg.intermediateSize));
  a('attention.head_count', gguf.u32(cfg.numHeads));
  // MLA runs as MQA over the latent: one KV head whose key is latent + RoPE key, whose value is the latent
  a('attention.head_count_kv', gguf.u32(1));
  a('attention.key_length', gguf.u32(cfg.kvLoraRank + cfg.qkRopeHeadDim));
  a('attention.value_length', gguf.u32(cfg.kvLoraRank));
  a('attention.key_length_mla', gguf.u32(cfg.qkNopeHeadDim + cfg.qkRopeHeadDim));
  a('attention.value_length_mla', gguf.u32(cfg.vHeadDim));
  a('attention.layer_norm_rms_epsilon', gguf.f32(cfg.rmsNormEps));
  if (cfg.qLoraRank !== null) a('attention.q_lora_rank', gguf.u32(cfg.qLoraRank));
  a('attention.kv_lora_rank', gguf.u32(cfg.kvLoraRank));
  a('rope.dimension_count', gguf.u32(cfg.qkRopeHeadDim));
  a('rope.freq_base', gguf.f32(cfg.ropeTheta));
  const rs = cfg.ropeScaling;
  if (rs && rs.factor > 1) {
    a('rope.scaling.type', gguf.str('yarn'));
    a('rope.scaling.factor', gguf.f32(rs.factor));
    a('rope.scaling.original_context_length', gguf.u32(rs.originalMaxPositions));
    a('rope.scaling.yarn_beta_fast', gguf.f32(rs.betaFast));
    a('rope.scaling.yarn_beta_slow', gguf.f32(rs.betaSlow));
    // llama.cpp divides this by 0.1 again (its TAG_DEEPSEEK2_YARN_LOG_MUL_FIX); softmax scale gets mscale²
    a('rope.scaling.yarn_log_multiplier', gguf.f32(0.1 * (rs.mscaleAllDim || rs.mscale)));
  }
  a('leading_dense_block_count', gguf.u32(cfg.nRoutedExperts ? cfg.firstKDense : cfg.numLayers));
  a('vocab_size', gguf.u32(cfg.vocabSize));
  if (cfg.nRoutedExperts) {
    a('expert_count', gguf.u32(cfg.nRoutedExperts));
    a('expert_used_count', gguf.u32(cfg.expertsPerToken));
    a('expert_shared_count', gguf.u32(cfg.nSharedExperts));
    a('expert_feed_forward_length', gguf.u32(cfg.moeIntermediateSize));
    a('expert_weights_scale', gguf.f32(cfg.routedScalingFactor));
    a('expert_weights_norm', gguf.bool(cfg.scoringFunc === 'sigmoid' || cfg.normTopkProb));
    a('expert_gating_func', gguf.u32(cfg.scoringFunc === 'sigmoid' ? 2 : 1));
    // group-limited routing (sum of each group's top-2 biased scores), as ours; a no-op when all groups are kept
    if (cfg.nGroup > 1 && cfg.topkGroup < cfg.nGroup) {
      a('expert_group_count', gguf.u32(cfg.nGroup));
      a('expert_group_used_count', gguf.u32(cfg.topkGroup));
    }
  }
  if (cfg.indexer) {
    a('attention.indexer.head_count', gguf.u32(cfg.indexer.nHeads));
    a('attention.indexer.key_length', gguf.u32(cfg.indexer.headDim));
    a('attention.indexer.top_k', gguf.u32(cfg.indexer.topk));
  }
  m.push(['tokenizer.ggml.model', gguf.str('gpt2')]);
  m.push(['tokenizer.ggml.pre', gguf.str(vocab.pre)]);
  m.push(['tokenizer.ggml.tokens', gguf.arr('string', vocab.tokens)]);
  m.push(['tokenizer.ggml.token_type', gguf.arr('i32', vocab.types)]);
  m.push(['tokenizer.ggml.merges', gguf.arr('string', vocab.merges)]);
  m.push(['tokenizer.ggml.bos_token_id', gguf.u32(cfg.bosTokenId)]);
  m.push(['tokenizer.ggml.eos_token_id', gguf.u32(cfg.eosTokenId)]);
  m.push(['tokenizer.ggml.add_bos_token', gguf.bool(vocab.addBos)]);
  return m;
}

// ---- tensors -------------------------------------------------------------------------------------------------

/** A stored HF tensor as fp32, FP8 codes times their weight_scale_inv block (128×128) scales. */
export function readDequantized(ck: Checkpoint, name: string): Float32Array {
  const t = ck.read(name);
  const n = numel(t.shape);
  const out = new Float32Array(n);
  decodeInto(t.dtype, t.bytes, 0, n, out);
  if (t.dtype === 'F8_E4M3') {
    const [N, K] = t.shape as [number, number];
    const sname = name.replace(/\.weight$/, '.weight_scale_inv');
    if (!ck.has(sname)) throw new Error(`FP8 tensor "${name}" has no "${sname}"`);
    const s = toFloat32(ck.read(sname));
    const kb = Math.ceil(K / 128);
    for (let r = 0; r < N; r++) {
      const srow = Math.floor(r / 128) * kb;
      for (let c = 0; c < K; c++) out[r * K + c]! *= s[srow + Math.floor(c / 128)]!;
    }
  }
  return out;
}

interface Plan {
  tensors: GgufTensor[];
  fallbacks: ExportReport['fallbacks'];
}

/** The GGUF tensor table for a checkpoint: names and dims as llama.cpp's loader asks for them, data lazily. */
export function ggufTensors(cfg: ModelConfig, ck: Checkpoint, type: ExportType): Plan {
  if (cfg.moeLayerFreq !== 1) throw new Error(`llama.cpp's deepseek layout has leading dense layers only; moe_layer_freq ${cfg.moeLayerFreq} cannot be exported`);
  const want = TYPE_OF[type];
  const tensors: GgufTensor[] = [];
  const fallbacks: Plan['fallbacks'] = [];
  // matrices take the asked type; vectors (norms, biases) and Q8_0-incompatible rows stay F32
  const typeFor = (name: string, ne: number[]): GgmlType => {
    if (ne.length === 1) return 'F32';
    if (want === 'Q8_0' && ne[0]! % Q8_0_BLOCK) { fallbacks.push({ name, type: 'F32' }); return 'F32'; }
    return want;
  };
  const add = (name: string, ne: number[], values: () => Float32Array) => {
    const t = typeFor(name, ne);
    tensors.push({ name, ne, type: t, data: () => encodeTensor(values(), t, ne[0]!) });
  };
  /** HF [out, in] (or [n]) → ggml ne [in, out] */
  const direct = (gname: string, hf: string) => {
    const info = ck.info(hf);
    if (!info) throw new Error(`checkpoint is missing tensor "${hf}"`);
    add(gname, [...info.shape].reverse(), () => readDequantized(ck, hf));
  };
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const nope = cfg.qkNopeHeadDim;
  const dv = cfg.vHeadDim;
  const rank = cfg.kvLoraRank;

  direct('token_embd.weight', 'model.embed_tokens.weight');
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    const b = `blk.${l}`;
    direct(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`);
    if (cfg.qLoraRank !== null) {
      direct(`${b}.attn_q_a.weight`, `${p}.self_attn.q_a_proj.weight`);
      direct(`${b}.attn_q_a_norm.weight`, `${p}.self_attn.q_a_layernorm.weight`);
      direct(`${b}.attn_q_b.weight`, `${p}.self_attn.q_b_proj.weight`);
    } else {
      direct(`${b}.attn_q.weight`, `${p}.self_attn.q_proj.weight`);
    }
    direct(`${b}.attn_kv_a_mqa.weight`, `${p}.self_attn.kv_a_proj_with_mqa.weight`);
    direct(`${b}.attn_kv_a_norm.weight`, `${p}.self_attn.kv_a_layernorm.weight`);
    // absorbed MLA: per head, W_UK transposed to [rank, nope] and W_UV as [dv, rank]
    const kvb = `${p}.self_attn.kv_b_proj.weight`;
    add(`${b}.attn_k_b.weight`, [nope, rank, H], () => {
      const W = readDequantized(ck, kvb);
      const o = new Float32Array(H * rank * nope);
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < nope; d++) {
          const src = (h * (nope + dv) + d) * rank;
          for (let c = 0; c < rank; c++) o[(h * rank + c) * nope + d] = W[src + c]!;
        }
      }
      return o;
    });
    add(`${b}.attn_v_b.weight`, [rank, dv, H], () => {
      const W = readDequantized(ck, kvb);
      const o = new Float32Array(H * dv * rank);
      for (let h = 0; h < H; h++) o.set(W.subarray((h * (nope + dv) + nope) * rank, (h + 1) * (nope + dv) * rank), h * dv * rank);
      return o;
    });
    direct(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`);
    if (cfg.indexer) {
      const ip = `${p}.self_attn.indexer`;
      direct(`${b}.indexer.attn_q_b.weight`, `${ip}.wq_b.weight`);
      direct(`${b}.indexer.attn_k.weight`, `${ip}.wk.weight`);
      direct(`${b}.indexer.k_norm.weight`, `${ip}.k_norm.weight`);
      direct(`${b}.indexer.k_norm.bias`, `${ip}.k_norm.bias`);
      direct(`${b}.indexer.proj.weight`, `${ip}.weights_proj.weight`);
    }
    direct(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`);
    if (isMoeLayer(cfg, l)) {
      direct(`${b}.ffn_gate_inp.weight`, `${p}.mlp.gate.weight`);
      const bias = `${p}.mlp.gate.e_score_correction_bias`;
      if (ck.has(bias)) direct(`${b}.exp_probs_b.bias`, bias);
      const E = cfg.nRoutedExperts;
      const I = cfg.moeIntermediateSize;
      for (const [g, hf, ne] of [['gate', 'gate_proj', [D, I, E]], ['up', 'up_proj', [D, I, E]], ['down', 'down_proj', [I, D, E]]] as const) {
        const name = `${b}.ffn_${g}_exps.weight`;
        const t = typeFor(name, [...ne]);
        // one expert at a time, so only one expert's fp32 copy is alive
        tensors.push({
          name, ne: [...ne], type: t, data: () => {
            const parts = Array.from({ length: E }, (_, e) => encodeTensor(readDequantized(ck, `${p}.mlp.experts.${e}.${hf}.weight`), t, ne[0]));
            const out = new Uint8Array(parts.reduce((s, x) => s + x.byteLength, 0));
            let o = 0;
            for (const x of parts) { out.set(x, o); o += x.byteLength; }
            return out;
          },
        });
      }
      if (cfg.nSharedExperts > 0) {
        direct(`${b}.ffn_gate_shexp.weight`, `${p}.mlp.shared_experts.gate_proj.weight`);
        direct(`${b}.ffn_up_shexp.weight`, `${p}.mlp.shared_experts.up_proj.weight`);
        direct(`${b}.ffn_down_shexp.weight`, `${p}.mlp.shared_experts.down_proj.weight`);
      }
    } else {
      direct(`${b}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`);
      direct(`${b}.ffn_up.weight`, `${p}.mlp.up_proj.weight`);
      direct(`${b}.ffn_down.weight`, `${p}.mlp.down_proj.weight`);
    }
  }
  direct('output_norm.weight', 'model.norm.weight');
  if (!cfg.tieWordEmbeddings || ck.has('lm_head.weight')) direct('output.weight', 'lm_head.weight');
  return { tensors, fallbacks };
}

export function exportGguf(dir: string, outFile: string, opts: ExportOptions = {}): ExportReport {
  const type = opts.type ?? 'bf16';
  if (!(type in TYPE_OF)) throw new Error(`--type must be one of ${Object.keys(TYPE_OF).join(', ')} (got "${type}")`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a model folder`);
  const cfg = loadConfig(dir);
  const vocab = ggufVocab(dir, cfg);
  const ck = Checkpoint.open(dir);
  try {
    const { tensors, fallbacks } = ggufTensors(cfg, ck, type);
    const name = basename(resolve(dir));
    const res = writeGguf(outFile, ggufMetadata(cfg, vocab, name, type), tensors, { onTensor: opts.onTensor });
    return { arch: ggufArch(cfg), file: outFile, bytes: res.bytes, tensors: tensors.length, fallbacks, vocab: vocab.source };
  } finally {
    ck.close();
  }
}

export function registerExportGguf(program: Command): void {
  program
    .command('export-gguf')
    .description("write a model folder as one GGUF file in llama.cpp's layout (deepseek2 / deepseek32)")
    .requiredOption('--model <dir>', 'model folder (config.json + safetensors)')
    .requiredOption('--out <file>', 'output .gguf file')
    .option('--type <type>', 'tensor type of the matrices: q8_0, bf16, f16 or f32 (FP8 is dequantised first)', 'bf16')
    .option('--json', 'print the report as JSON')
    .action((o: { model: string; out: string; type: string; json?: boolean }) => {
      const report = exportGguf(o.model, o.out, {
        type: o.type as ExportType,
        onTensor: process.stderr.isTTY ? (d, t) => process.stderr.write(`\rwriting tensor ${d}/${t}`) : undefined,
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (o.json) { process.stdout.write(JSON.stringify(report) + '\n'); return; }
      const mb = (report.bytes / 2 ** 20).toFixed(1);
      process.stdout.write(`${report.file}: ${report.arch}, ${report.tensors} tensors, ${mb} MiB, ${o.type}, vocabulary from ${report.vocab}\n`);
      if (report.fallbacks.length) process.stdout.write(`kept in F32 (rows not a multiple of ${Q8_0_BLOCK}): ${report.fallbacks.map((f) => f.name).join(', ')}\n`);
    });
}
