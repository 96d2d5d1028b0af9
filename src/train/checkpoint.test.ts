// Trained checkpoints load unchanged into the inference engine and give the training model's logits.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../model/config.js';
import { DeepSeekModel } from '../model/model.js';
import { checkpointTensors, loadCheckpointInto, saveCheckpoint } from './checkpoint.js';
import { TrainModel } from './model.js';
import { ParamStore } from './params.js';
import { presetConfig } from './presets.js';
import { PatternData } from './testdata.js';
import { Trainer } from './trainer.js';

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); m = Math.max(m, Math.abs(b[i]!)); }
  return d / m;
}

/** A few training steps so no tensor (router bias included) is still at its initial value. */
function trained(raw: Record<string, unknown>): TrainModel {
  const cfg = parseConfig(raw);
  const model = TrainModel.init(cfg, 11);
  const data = new PatternData(cfg.vocabSize, 12);
  const tr = new Trainer(model, { mode: 'pretrain', schedule: { peak: 3e-3, min: 3e-3, warmup: 1, total: 10 } });
  for (let i = 0; i < 3; i++) tr.trainStep(data.batch(2, 8), 2, 8);
  return model;
}

function compareWithEngine(model: TrainModel, dir: string, S: number, mode: 'pretrain' | 'sparse'): { main: number; mtp: number } {
  const cfg = model.cfg;
  const tokens = new PatternData(cfg.vocabSize, 13).batch(1, S);
  const mine = model.logits(tokens, 1, S, mode);
  const engine = DeepSeekModel.load(dir);
  assert.deepEqual(engine.unused, []);
  const cache = engine.newCache();
  const r = engine.forward(Array.from(tokens), 0, cache, { logits: 'all' });
  const D = cfg.hiddenSize;
  const m = engine.mtp[0]!.forward(engine.backend, r.hidden.subarray(0, (S - 1) * D), Array.from(tokens.subarray(1)), 0, cache.mtp[0]!);
  return { main: maxRel(mine.main, r.logits), mtp: maxRel(mine.mtp!, m.logits) };
}

test('deepseek_v3 variant (dense attention, q_proj): engine logits and MTP logits equal the training model', () => {
  const raw = presetConfig('tiny', { model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'], q_lora_rank: null });
  const model = trained(raw);
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-train-v3-'));
  try {
    saveCheckpoint(dir, model.params);
    const err = compareWithEngine(model, dir, 12, 'pretrain');
    assert.ok(err.main < 1e-5 && err.mtp < 1e-5, JSON.stringify(err));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deepseek_v32: the engine (FP8 latent cache, FP8 indexer) agrees closely while every key is selected', () => {
  // index_topk ≥ S: selection is all causal keys in both; the engine's FP8 round trip of the KV latent
  // is the only difference, so agreement is to a few percent, not bit-exact
  const model = trained(presetConfig('tiny', { index_topk: 32 }));
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-train-v32-'));
  try {
    saveCheckpoint(dir, model.params, { dtype: 'BF16' });
    const cfgOut = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(cfgOut.model_type, 'deepseek_v32');
    assert.equal(cfgOut.torch_dtype, 'bfloat16');
    const err = compareWithEngine(model, dir, 12, 'sparse');
    assert.ok(err.main < 0.05 && err.mtp < 0.05, JSON.stringify(err)); // measured ≈ 0.018 / 0.016
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpoints load back into a parameter store (F32 exact, BF16 rounded)', () => {
  const model = trained(presetConfig('tiny'));
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-train-rt-'));
  try {
    saveCheckpoint(dir, model.params);
    const back = new ParamStore(model.cfg);
    loadCheckpointInto(back, dir);
    for (const [n, t] of model.params.byName) assert.deepEqual(back.get(n).data, t.data, n);
    saveCheckpoint(dir, model.params, { dtype: 'BF16' });
    loadCheckpointInto(back, dir);
    const w = model.params.get('model.layers.0.self_attn.q_a_proj.weight');
    assert.ok(maxRel(back.get(w.name).data, w.data) < 1e-2);
    const bias = checkpointTensors(model.params, 'BF16').find((t) => t.name.endsWith('e_score_correction_bias'))!;
    assert.equal(bias.dtype, 'F32');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
