import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configsDir } from '../testing/fixtures.js';
import { ConfigError, loadConfig, parseConfig } from './config.js';
import { countParams, kvBytesPerToken } from './manifest.js';

const real = () => JSON.parse(readFileSync(join(configsDir, 'deepseek-v3.2.json'), 'utf8')) as Record<string, unknown>;

describe('config', () => {
  it('loads the real 671B DeepSeek-V3.2 config', () => {
    const c = loadConfig(join(configsDir, 'deepseek-v3.2.json'));
    assert.equal(c.modelType, 'deepseek_v32');
    assert.deepEqual(c.indexer, { nHeads: 64, headDim: 128, topk: 2048 });
    assert.equal(c.quant?.activationQuant, true);
    assert.equal(c.ropeScaling?.factor, 40);
  });

  it('counts 671.9B main parameters, the MTP layer apart, and 656+132 cache bytes per token per layer', () => {
    const c = parseConfig(real());
    const p = countParams(c);
    assert.ok(Math.abs(p.total / 671e9 - 1) < 0.01, `total ${p.total}`);
    assert.ok(p.mtp > 11e9 && p.mtp < 12.5e9, `mtp ${p.mtp}`);
    assert.ok(Math.abs((p.activated - c.vocabSize * c.hiddenSize) / 37e9 - 1) < 0.02, `activated ${p.activated}`);
    assert.deepEqual(kvBytesPerToken(c).perLayer, { mla: 656, indexer: 132 });
  });

  it('accepts deepseek_v3 without an indexer and q_lora_rank null', () => {
    const r = real();
    r.model_type = 'deepseek_v3';
    r.q_lora_rank = null;
    const c = parseConfig(r);
    assert.equal(c.indexer, null);
    assert.equal(c.qLoraRank, null);
  });

  const bad: [string, (r: Record<string, unknown>) => void, RegExp][] = [
    ['unknown model_type', (r) => { r.model_type = 'llama'; }, /"model_type"/],
    ['missing hidden_size', (r) => { delete r.hidden_size; }, /missing required field "hidden_size"/],
    ['string where a number belongs', (r) => { r.num_attention_heads = '128'; }, /"num_attention_heads" must be an integer/],
    ['experts not divisible into groups', (r) => { r.n_group = 7; }, /"n_routed_experts" \(256\) must be divisible by "n_group"/],
    ['odd rope dim', (r) => { r.qk_rope_head_dim = 63; }, /"qk_rope_head_dim" must be even/],
    ['negative topk', (r) => { r.index_topk = -1; }, /"index_topk" must be ≥ 1/],
    ['non-yarn rope scaling', (r) => { r.rope_scaling = { type: 'linear', factor: 2 }; }, /"rope_scaling.type"/],
    ['bad block size', (r) => { (r.quantization_config as Record<string, unknown>).weight_block_size = [64, 64]; }, /weight_block_size/],
    ['v32 without q_lora', (r) => { r.q_lora_rank = null; }, /"q_lora_rank" must be set/],
  ];
  for (const [what, mutate, re] of bad) {
    it(`rejects a config with ${what}, naming the field`, () => {
      const r = real();
      mutate(r);
      assert.throws(() => parseConfig(r), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    });
  }

  it('rejects a file that is not JSON', () => {
    assert.throws(() => loadConfig('/dev/null'), /not valid JSON/);
  });
});
