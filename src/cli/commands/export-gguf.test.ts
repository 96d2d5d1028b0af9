import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { Checkpoint } from '../../formats/checkpoint.js';
import { readGgufHeader, type GgufHeader } from '../../formats/gguf.js';
import { parseConfig } from '../../model/config.js';
import { syntheticTensors, writeCheckpoint } from '../../model/synthetic.js';
import { tinyConfigJson } from '../../testing/tiny-config.js';
import { exportGguf, readDequantized, registerExportGguf } from './export-gguf.js';

const tmp = mkdtempSync(join(tmpdir(), 'dsv32-export-gguf-'));

function checkpoint(name: string, overrides: Record<string, unknown>, dtype: 'FP8' | 'BF16' | 'F32'): string {
  const raw = tinyConfigJson(overrides);
  const dir = join(tmp, name);
  writeCheckpoint(dir, raw, syntheticTensors(parseConfig(raw), { dtype, seed: 7 }));
  return dir;
}

function tensorF32(file: string, h: GgufHeader, name: string): Float32Array {
  const t = h.tensors.find((x) => x.name === name);
  assert.ok(t, `no tensor ${name}`);
  assert.equal(t.type, 'F32');
  const n = t.ne.reduce((a, b) => a * b, 1);
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset + h.dataOffset + t.offset, buf.byteOffset + h.dataOffset + t.offset + n * 4));
}

const meta = (h: GgufHeader, k: string) => h.metadata.get(k)?.value;

describe('export-gguf', () => {
  // v3.2 with an MTP layer (left out of the GGUF), FP8 weights with block scales
  const v32 = checkpoint('v32', { num_nextn_predict_layers: 1 }, 'FP8');
  const out32 = join(tmp, 'v32.gguf');
  const rep32 = exportGguf(v32, out32, { type: 'f32' });
  const h32 = readGgufHeader(out32);
  const cfg = parseConfig(tinyConfigJson());
  const H = cfg.numHeads;
  const nope = cfg.qkNopeHeadDim;
  const dv = cfg.vHeadDim;
  const rank = cfg.kvLoraRank;
  const D = cfg.hiddenSize;
  const I = cfg.moeIntermediateSize;
  const E = cfg.nRoutedExperts;

  it('names every tensor llama.cpp\'s deepseek32 loader asks for, with its dims, and nothing of the MTP layer', () => {
    assert.equal(rep32.arch, 'deepseek32');
    const ne = new Map(h32.tensors.map((t) => [t.name, t.ne]));
    assert.deepEqual(ne.get('token_embd.weight'), [D, cfg.vocabSize]);
    assert.deepEqual(ne.get('output.weight'), [D, cfg.vocabSize]);
    assert.deepEqual(ne.get('output_norm.weight'), [D]);
    assert.deepEqual(ne.get('blk.0.attn_q_a.weight'), [D, cfg.qLoraRank]);
    assert.deepEqual(ne.get('blk.0.attn_q_b.weight'), [cfg.qLoraRank, H * (nope + cfg.qkRopeHeadDim)]);
    assert.deepEqual(ne.get('blk.0.attn_kv_a_mqa.weight'), [D, rank + cfg.qkRopeHeadDim]);
    assert.deepEqual(ne.get('blk.0.attn_k_b.weight'), [nope, rank, H]);
    assert.deepEqual(ne.get('blk.0.attn_v_b.weight'), [rank, dv, H]);
    assert.deepEqual(ne.get('blk.0.attn_output.weight'), [H * dv, D]);
    assert.deepEqual(ne.get('blk.0.ffn_gate.weight'), [D, cfg.intermediateSize]);
    assert.deepEqual(ne.get('blk.0.ffn_down.weight'), [cfg.intermediateSize, D]);
    assert.deepEqual(ne.get('blk.1.ffn_gate_inp.weight'), [D, E]);
    assert.deepEqual(ne.get('blk.1.exp_probs_b.bias'), [E]);
    assert.deepEqual(ne.get('blk.1.ffn_gate_exps.weight'), [D, I, E]);
    assert.deepEqual(ne.get('blk.1.ffn_up_exps.weight'), [D, I, E]);
    assert.deepEqual(ne.get('blk.1.ffn_down_exps.weight'), [I, D, E]);
    assert.deepEqual(ne.get('blk.1.ffn_gate_shexp.weight'), [D, I]);
    assert.deepEqual(ne.get('blk.1.indexer.attn_q_b.weight'), [cfg.qLoraRank, 4 * 128]);
    assert.deepEqual(ne.get('blk.1.indexer.attn_k.weight'), [D, 128]);
    assert.deepEqual(ne.get('blk.1.indexer.proj.weight'), [D, 4]);
    assert.deepEqual(ne.get('blk.1.indexer.k_norm.bias'), [128]);
    assert.ok(![...ne.keys()].some((n) => n.startsWith('blk.2.')), 'the MTP layer is not exported');
    assert.ok(!ne.has('blk.1.ffn_gate.weight') && !ne.has('blk.0.ffn_gate_exps.weight'));
    assert.equal(h32.tensors.length, rep32.tensors);
  });

  it('writes the hyper-parameters under the architecture prefix', () => {
    assert.equal(meta(h32, 'general.architecture'), 'deepseek32');
    assert.equal(meta(h32, 'deepseek32.block_count'), 2);
    assert.equal(meta(h32, 'deepseek32.attention.head_count_kv'), 1);
    assert.equal(meta(h32, 'deepseek32.attention.key_length'), rank + 8);
    assert.equal(meta(h32, 'deepseek32.attention.value_length'), rank);
    assert.equal(meta(h32, 'deepseek32.attention.key_length_mla'), nope + 8);
    assert.equal(meta(h32, 'deepseek32.attention.value_length_mla'), dv);
    assert.equal(meta(h32, 'deepseek32.leading_dense_block_count'), 1);
    assert.equal(meta(h32, 'deepseek32.expert_gating_func'), 2);
    assert.equal(meta(h32, 'deepseek32.expert_weights_scale'), 2.5);
    assert.equal(meta(h32, 'deepseek32.expert_group_count'), 2);
    assert.equal(meta(h32, 'deepseek32.expert_group_used_count'), 1);
    assert.equal(meta(h32, 'deepseek32.rope.scaling.type'), 'yarn');
    assert.equal(meta(h32, 'deepseek32.rope.scaling.original_context_length'), 32);
    assert.ok(Math.abs((meta(h32, 'deepseek32.rope.scaling.yarn_log_multiplier') as number) - 0.1) < 1e-7);
    assert.equal(meta(h32, 'deepseek32.attention.indexer.top_k'), 8);
    assert.equal(meta(h32, 'deepseek32.attention.indexer.head_count'), 4);
    assert.equal(meta(h32, 'deepseek32.nextn_predict_layers'), undefined);
    assert.equal(meta(h32, 'general.file_type'), 0);
  });

  it('dequantises FP8 with the block scales, splits kv_b per head and stacks experts in order', () => {
    const ck = Checkpoint.open(v32);
    try {
      const kvb = readDequantized(ck, 'model.layers.0.self_attn.kv_b_proj.weight');
      const t = ck.read('model.layers.0.self_attn.kv_b_proj.weight');
      assert.equal(t.dtype, 'F8_E4M3');
      const kb = tensorF32(out32, h32, 'blk.0.attn_k_b.weight');
      const vb = tensorF32(out32, h32, 'blk.0.attn_v_b.weight');
      for (let h = 0; h < H; h++) {
        for (let c = 0; c < rank; c += 17) {
          for (let d = 0; d < nope; d++) assert.equal(kb[(h * rank + c) * nope + d], kvb[(h * (nope + dv) + d) * rank + c]);
          for (let j = 0; j < dv; j++) assert.equal(vb[(h * dv + j) * rank + c], kvb[(h * (nope + dv) + nope + j) * rank + c]);
        }
      }
      const up = tensorF32(out32, h32, 'blk.1.ffn_up_exps.weight');
      for (const e of [0, 3]) assert.deepEqual(up.subarray(e * I * D, (e + 1) * I * D), readDequantized(ck, `model.layers.1.mlp.experts.${e}.up_proj.weight`));
      assert.ok(kvb.some((x) => x !== 0) && Math.max(...kvb.map(Math.abs)) < 2, 'scales applied (values of order 1/sqrt(fan_in))');
    } finally {
      ck.close();
    }
  });

  it('writes a placeholder byte-level vocabulary without tokenizer.json', () => {
    const toks = meta(h32, 'tokenizer.ggml.tokens') as string[];
    const types = meta(h32, 'tokenizer.ggml.token_type') as number[];
    assert.equal(toks.length, cfg.vocabSize);
    assert.equal(new Set(toks).size, toks.length, 'tokens are unique');
    assert.equal(types[cfg.bosTokenId], 3);
    assert.equal(types[cfg.eosTokenId], 3);
    assert.equal(toks[2], 'Ā'); // byte 0 in GPT-2's byte alphabet
    assert.equal(toks[2 + 0x21], '!');
    assert.equal(meta(h32, 'tokenizer.ggml.model'), 'gpt2');
    assert.deepEqual(meta(h32, 'tokenizer.ggml.merges'), []);
    assert.equal(rep32.vocab, 'byte-level placeholder');
  });

  it('exports deepseek_v3 as deepseek2 in Q8_0, keeping rows that are not whole blocks in F32', () => {
    const v3 = checkpoint('v3', { model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'] }, 'BF16');
    writeFileSync(join(v3, 'tokenizer.json'), JSON.stringify({
      model: { type: 'BPE', vocab: { a: 5, b: 6, ab: 7 }, merges: [['a', 'b']] },
      added_tokens: [{ id: 0, content: '<｜begin▁of▁sentence｜>', special: true }, { id: 9, content: '<think>', special: false }],
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\p{N}{1,3}' } }, { type: 'Split', pattern: { Regex: '[一-龥぀-ゟ゠-ヿ]+' } }] },
    }));
    writeFileSync(join(v3, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: true }));
    const out = join(tmp, 'v3.gguf');
    const rep = exportGguf(v3, out, { type: 'q8_0' });
    const h = readGgufHeader(out);
    assert.equal(rep.arch, 'deepseek2');
    assert.equal(meta(h, 'general.architecture'), 'deepseek2');
    assert.equal(meta(h, 'general.file_type'), 7);
    assert.ok(!h.tensors.some((t) => t.name.includes('indexer')));
    assert.equal(meta(h, 'deepseek2.attention.indexer.top_k'), undefined);
    const type = new Map(h.tensors.map((t) => [t.name, t.type]));
    assert.equal(type.get('blk.0.attn_k_b.weight'), 'F32'); // ne0 = qk_nope_head_dim = 16
    assert.deepEqual(rep.fallbacks.map((f) => f.name), ['blk.0.attn_k_b.weight', 'blk.1.attn_k_b.weight']);
    assert.equal(type.get('blk.0.attn_v_b.weight'), 'Q8_0');
    assert.equal(type.get('blk.1.ffn_gate_exps.weight'), 'Q8_0');
    assert.equal(type.get('token_embd.weight'), 'Q8_0');
    assert.equal(type.get('blk.0.attn_norm.weight'), 'F32');
    assert.equal(type.get('blk.1.exp_probs_b.bias'), 'F32');
    const toks = meta(h, 'tokenizer.ggml.tokens') as string[];
    const types = meta(h, 'tokenizer.ggml.token_type') as number[];
    assert.deepEqual([toks[0], toks[5], toks[7], toks[9], toks[8]], ['<｜begin▁of▁sentence｜>', 'a', 'ab', '<think>', '[PAD8]']);
    assert.deepEqual([types[0], types[5], types[9], types[8]], [3, 1, 4, 5]);
    assert.deepEqual(meta(h, 'tokenizer.ggml.merges'), ['a b']);
    assert.equal(meta(h, 'tokenizer.ggml.pre'), 'deepseek-v3');
    assert.equal(meta(h, 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(rep.vocab, 'tokenizer.json');
  });

  it('runs as a command and rejects bad input', async () => {
    const out = join(tmp, 'cli.gguf');
    const program = new Command().exitOverride();
    registerExportGguf(program);
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { lines.push(s); return true; }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['export-gguf', '--model', v32, '--out', out, '--type', 'bf16', '--json'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const rep = JSON.parse(lines.join(''));
    assert.equal(rep.arch, 'deepseek32');
    assert.equal(readGgufHeader(out).tensors.find((t) => t.name === 'blk.0.attn_q_a.weight')?.type, 'BF16');
    assert.throws(() => exportGguf(v32, out, { type: 'q4' as 'f32' }), /--type must be one of/);
    assert.throws(() => exportGguf(join(tmp, 'missing'), out), /not a model folder/);
    const freq = checkpoint('freq', { moe_layer_freq: 2, num_hidden_layers: 3 }, 'BF16');
    assert.throws(() => exportGguf(freq, out), /moe_layer_freq/);
  });
});
