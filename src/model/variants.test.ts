// Checkpoint variants beyond the golden fixtures: deepseek_v3 (dense attention, direct q projection),
// FP8 synthetic weights, and the MTP layer kept apart from the main stack.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { relErr } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';
import { parseConfig } from './config.js';
import { DeepSeekModel } from './model.js';
import { MapSource, syntheticTensors, writeCheckpoint } from './synthetic.js';
import { PortableBackend } from '../kernels/portable.js';

const prompt = Array.from({ length: 20 }, (_, i) => (i * 37 + 11) % 97);

function prefillVsDecode(model: DeepSeekModel): number {
  const V = model.cfg.vocabSize;
  const a = model.forward(prompt, 0, model.newCache(), { logits: 'all' }).logits;
  const cache = model.newCache();
  let worst = 0;
  prompt.forEach((t, i) => {
    const r = model.forward([t], i, cache);
    worst = Math.max(worst, relErr(r.logits, a.subarray(i * V, (i + 1) * V)));
  });
  return worst;
}

describe('model variants', () => {
  it('runs a deepseek_v3 checkpoint (no indexer, q_lora_rank null) from disk', () => {
    const raw = tinyConfigJson({ model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'], q_lora_rank: null, index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined });
    const cfg = parseConfig(raw);
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-v3-'));
    writeCheckpoint(dir, raw, syntheticTensors(cfg, { dtype: 'BF16', seed: 3 }));
    const model = DeepSeekModel.load(dir);
    assert.equal(model.layers[0]!.attn.indexer, null);
    assert.equal(model.layers[0]!.attn.wqA, null);
    assert.equal(model.layers[0]!.attn.wqkvA, null, 'nothing to stack without q_a_proj');
    assert.ok(prefillVsDecode(model) < 1e-4);
    assert.deepEqual(model.unused, []);
  });

  it('runs synthetic FP8 weights with activation quantisation, prefill equal to decode', () => {
    const raw = tinyConfigJson({ quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128], scale_fmt: 'ue8m0' } });
    const cfg = parseConfig(raw);
    const model = new DeepSeekModel(cfg, new MapSource(syntheticTensors(cfg, { dtype: 'FP8', seed: 5 })), new PortableBackend());
    assert.ok(prefillVsDecode(model) < 1e-4);
  });

  it('loads the MTP layer but keeps it out of the main stack', () => {
    const raw = tinyConfigJson({ num_nextn_predict_layers: 1 });
    const cfg = parseConfig(raw);
    const tensors = syntheticTensors(cfg, { seed: 9 });
    const withMtp = new DeepSeekModel(cfg, new MapSource(tensors), new PortableBackend());
    const without = new DeepSeekModel(cfg, new MapSource(tensors), new PortableBackend(), { mtp: false });
    assert.equal(withMtp.mtp.length, 1);
    assert.equal(withMtp.layers.length, cfg.numLayers);
    assert.equal(without.mtp.length, 0);
    assert.ok(without.unused.every((n) => n.startsWith(`model.layers.${cfg.numLayers}.`)));
    const a = withMtp.forward(prompt, 0, withMtp.newCache(), { logits: 'all' });
    const b = without.forward(prompt, 0, without.newCache(), { logits: 'all' });
    assert.deepEqual(a.logits, b.logits);
    // the MTP layer predicts from hidden states + next tokens over its own cache
    const cache = withMtp.newCache();
    const m = withMtp.forward(prompt, 0, cache, { logits: 'none' });
    const r = withMtp.mtp[0]!.forward(withMtp.backend, m.hidden.subarray(0, 19 * cfg.hiddenSize), prompt.slice(1), 0, cache.mtp[0]!);
    assert.equal(r.logits.length, 19 * cfg.vocabSize);
    assert.ok(r.logits.every(Number.isFinite));
  });

  it('names the missing tensor when a checkpoint is incomplete', () => {
    const cfg = parseConfig(tinyConfigJson());
    const tensors = syntheticTensors(cfg);
    tensors.delete('model.layers.1.mlp.experts.2.up_proj.weight');
    assert.throws(() => new DeepSeekModel(cfg, new MapSource(tensors), new PortableBackend()), /missing tensor "model.layers.1.mlp.experts.2.up_proj.weight"/);
    const t2 = syntheticTensors(cfg);
    const w = t2.get('model.layers.0.self_attn.o_proj.weight')!;
    t2.set(w.name, { ...w, shape: [w.shape[1]!, w.shape[0]!] });
    assert.throws(() => new DeepSeekModel(cfg, new MapSource(t2), new PortableBackend()), /o_proj.weight" has shape \[32,64\], the config implies \[64,32\]/);
  });
});
