import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../model/config.js';
import { Rope, mlaSoftmaxScale as engineScale } from '../../model/rope.js';
import { mlaSoftmaxScale, ropeFrequencies, ropeTable } from './yarn.js';

const spec671 = [1, 0.7498942, 0.5623413, 0.4216965, 0.3162278, 0.2371374, 0.1778279, 0.1333521, 0.1, 0.07498942,
  0.05623413, 0.03900693, 0.02687936, 0.01837814, 0.01244796, 0.008334509, 0.0055, 0.003561997, 0.002249365,
  0.001370513, 0.0007905694, 0.0004149904, 0.0001778279, 3.333804e-5, 2.5e-5, 1.874735e-5, 1.405853e-5,
  1.054241e-5, 7.905694e-6, 5.928435e-6, 4.445698e-6, 3.333804e-6];

const scaling = { type: 'yarn' as const, factor: 40, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 1 };

test('YaRN frequencies match spec §4.1 for the 671B config', () => {
  const { freqs } = ropeFrequencies(64, 10000, scaling);
  spec671.forEach((v, j) => assert.ok(Math.abs(freqs[j]! - v) <= 2e-6 * v, `j=${j}: ${freqs[j]} vs ${v}`));
});

test('frequencies, angles and softmax scale equal the inference engine for other dims/factors', () => {
  for (const [dim, factor, orig] of [[8, 4, 64], [16, 40, 4096], [64, 1, 4096]] as const) {
    const sc = { ...scaling, factor, originalMaxPositions: orig };
    assert.deepEqual(ropeFrequencies(dim, 10000, sc).freqs, new Rope(dim, 10000, sc).freqs);
  }
  const cfg = parseConfig(JSON.parse(JSON.stringify({
    model_type: 'deepseek_v3', vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
    kv_lora_rank: 8, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 4,
    rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, mscale: 1, mscale_all_dim: 1 },
  })));
  assert.ok(Math.abs(mlaSoftmaxScale(cfg) - 0.1352337789) < 1e-9);
  assert.equal(mlaSoftmaxScale(cfg), engineScale(cfg));
  const tab = ropeTable(cfg, 100);
  assert.equal(tab.cos[99 * 32 + 3], Math.fround(Math.cos(Math.fround(99 * tab.freqs[3]!))));
});
