import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configsDir } from '../testing/fixtures.js';
import { loadConfig, parseConfig } from './config.js';
import { countParams, kvBytesPerToken, mainTensors } from './manifest.js';
import {
  activatedWeightBytes, attendedKeys, cacheBytesPerToken, costCurve, decodeBytesPerToken, flopsPerToken, PlanError, planModel, tensorBytes, weightsBytes,
} from './plan.js';

const v32 = loadConfig(join(configsDir, 'deepseek-v3.2.json'));
const rawV32 = JSON.parse(readFileSync(join(configsDir, 'deepseek-v3.2.json'), 'utf8')) as Record<string, unknown>;
// The same model without the indexer: a deepseek_v3 config (V3.1-Terminus shape).
const v3 = parseConfig({ ...rawV32, model_type: 'deepseek_v3', index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined });
const K128 = 131072;
const near = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (±${rel * 100}%)`);

describe('plan: 671B DeepSeek-V3.2', () => {
  const plan = planModel(v32, { weights: 'fp8', kv: 'fp8', context: K128, batch: 1 });

  it('parameter counts: 671B total; 37.5B activated without the embedding lookup (36.6B before the indexers)', () => {
    near(plan.params.total, 671e9, 0.01, 'total');
    assert.equal(plan.params.activatedWithEmbedding, countParams(v32).activated);
    near(plan.params.activatedWithEmbedding, 38.40e9, 0.001, 'activated incl. embedding');
    near(plan.params.activated, 37.48e9, 0.001, 'activated');
    near(plan.params.indexer, 851.5e6, 0.001, 'indexers');
    // DeepSeek's published 37B is the pre-DSA count
    near(plan.params.activated - plan.params.indexer, 37e9, 0.02, 'activated without indexers');
    near(plan.params.mtp, 11.62e9, 0.001, 'mtp');
  });

  it('cache: 656 B latent + 132 B indexer key per layer, 48,068 B per token', () => {
    assert.deepEqual(plan.cachePerToken.perLayer, { mla: 656, indexer: 132 });
    assert.equal(plan.cachePerToken.total, 48068);
    assert.equal(plan.cachePerToken.total, kvBytesPerToken(v32).total);
    assert.equal(plan.cache.total, 48068 * K128);
    assert.equal(plan.cache.mla + plan.cache.indexer, plan.cache.total);
    const b4 = planModel(v32, { weights: 'fp8', kv: 'bf16', context: 1000, batch: 4 });
    assert.deepEqual(b4.cachePerToken.perLayer, { mla: 1152, indexer: 256 });
    assert.equal(b4.cache.total, 4 * 1000 * (1152 + 256) * 61);
  });

  it('decode FLOPs at position 0 ≈ 2 × activated parameters', () => {
    const dsa = flopsPerToken(v32, 0, 'decode', 'dsa').total;
    const dense = flopsPerToken(v32, 0, 'decode', 'dense').total;
    near(dsa, 2 * plan.params.activated, 0.02, 'DSA decode at 0');
    near(dense, 2 * (plan.params.activated - plan.params.indexer), 0.02, 'dense decode at 0');
    // the projections alone are exactly 2 × their weights: everything but the per-key terms
    const b = flopsPerToken(v32, 0, 'decode', 'dsa');
    assert.ok(b.attnCore + b.indexerScore < 0.001 * b.total);
  });

  it('at 128K, DSA decode is several times cheaper and its growth is the indexer', () => {
    const d = plan.flops.decode;
    const ratio = d.dense.total / d.dsa.total;
    assert.ok(ratio > 5, `decode dense/DSA = ${ratio}`);
    const growth = d.dsa.total - flopsPerToken(v32, 0, 'decode', 'dsa').total;
    assert.ok(d.dsa.indexerScore > 0.6 * growth, `indexer ${d.dsa.indexerScore} of growth ${growth}`);
    const pre = plan.flops.prefill.dense.total / plan.flops.prefill.dsa.total;
    assert.ok(pre > 2, `prefill dense/DSA = ${pre}`);
    // The tech report's measured cost ratios at 128K are 8.6× (decode) and 3.6× (prefill); FLOPs
    // are not dollars, but they should land near.
    near(ratio, 8.6, 0.25, 'decode ratio vs report');
    near(pre, 3.6, 0.25, 'prefill ratio vs report');
  });

  it('per-key costs: MHA 2·(192+128), MQA 2·(512+64)+2·512 per head, indexer 2·64·128 per key', () => {
    const step = (pos: number, ph: 'prefill' | 'decode', a: 'dense' | 'dsa') => flopsPerToken(v32, pos + 1, ph, a).total - flopsPerToken(v32, pos, ph, a).total;
    assert.equal(step(5000, 'prefill', 'dense'), 61 * 128 * 2 * (192 + 128));
    assert.equal(step(5000, 'decode', 'dense'), 61 * 128 * (2 * 576 + 2 * 512));
    // past top-k only the indexer grows; below it, attention and indexer both do
    assert.equal(step(5000, 'decode', 'dsa'), 61 * 2 * 64 * 128);
    assert.equal(step(100, 'decode', 'dsa'), 61 * (128 * (2 * 576 + 2 * 512) + 2 * 64 * 128));
    assert.equal(attendedKeys(v32, 2046, 'dsa'), 2047);
    assert.equal(attendedKeys(v32, 2047, 'dsa'), 2048);
    assert.equal(attendedKeys(v32, 9999, 'dsa'), 2048);
    assert.equal(attendedKeys(v32, 9999, 'dense'), 10000);
  });

  it('breakdown parts sum to the total', () => {
    for (const ph of ['prefill', 'decode'] as const) {
      for (const a of ['dense', 'dsa'] as const) {
        const b = flopsPerToken(v32, 77777, ph, a);
        assert.equal(b.attnProj + b.attnCore + b.indexerProj + b.indexerScore + b.ffn + b.lmHead, b.total);
        if (a === 'dense') assert.equal(b.indexerProj + b.indexerScore, 0);
      }
    }
    assert.equal(flopsPerToken(v32, 0, 'decode', 'dense').lmHead, 2 * 7168 * 129280);
  });

  it('decode bytes: activated weights + cache rows (dense: every latent row; DSA: every indexer key, top-k latent rows)', () => {
    const dense = decodeBytesPerToken(v32, K128, 'dense', 'fp8', 'fp8');
    const dsa = decodeBytesPerToken(v32, K128, 'dsa', 'fp8', 'fp8');
    assert.equal(dense.cache, 61 * (K128 + 1) * 656);
    assert.equal(dsa.cache, 61 * (2048 * 656 + (K128 + 1) * 132));
    assert.ok(dsa.weights > dense.weights, 'DSA also reads the indexers');
    // FP8 weights: ~1 byte per activated parameter (+ bf16 norms/router/head, fp32 scales)
    near(activatedWeightBytes(v32, 'fp8'), plan.params.activated, 0.08, 'fp8 activated bytes');
    near(activatedWeightBytes(v32, 'bf16'), 2 * plan.params.activated, 0.001, 'bf16 activated bytes');
  });

  it('weight bytes by release dtype', () => {
    const total = plan.params.total;
    const biasElems = 58 * 256; // F32 router correction bias in every release
    const bf16 = weightsBytes(v32, 'bf16').main;
    assert.deepEqual(bf16.byFormat, { BF16: 2 * (total - biasElems), F32: 4 * biasElems });
    assert.equal(weightsBytes(v32, 'f32').main.total, 4 * total);
    const fp8Elems = mainTensors(v32).filter((t) => t.fp8).reduce((a, t) => a + t.shape[0]! * t.shape[1]!, 0);
    const fp8 = weightsBytes(v32, 'fp8');
    assert.equal(fp8.main.byFormat.F8_E4M3, fp8Elems);
    assert.equal(fp8.main.byFormat.BF16! + 2 * fp8Elems, bf16.byFormat.BF16);
    // the published checkpoint is ~689 GB with the MTP layer
    near(fp8.main.total + fp8.mtp.total, 689.5e9, 0.005, 'fp8 checkpoint');
    const q8 = weightsBytes(v32, 'q8').main.byFormat;
    assert.equal(q8.I8, fp8Elems);
    assert.equal(q8.F16, fp8Elems / 16);
    // kv_a_proj_with_mqa: [576, 7168] → 5 × 56 fp32 block scales
    const kva = mainTensors(v32).find((t) => t.name.endsWith('layers.0.self_attn.kv_a_proj_with_mqa.weight'))!;
    assert.deepEqual(tensorBytes(kva, 'fp8'), { F8_E4M3: 576 * 7168, F32: 5 * 56 * 4 });
    assert.deepEqual(tensorBytes(kva, 'q8'), { I8: 576 * 7168, F16: 576 * 224 * 2 });
  });

  it('curves are non-decreasing; DSA is cheaper past 4K (and reads fewer bytes past 32K, once the cache outweighs the indexer weights)', () => {
    const pts = costCurve(v32, [0, 1000, 2047, 2048, 4096, 65536, K128, 163839], 'fp8', 'fp8');
    for (let i = 1; i < pts.length; i++) {
      assert.ok(pts[i]!.decode.dsa >= pts[i - 1]!.decode.dsa);
      assert.ok(pts[i]!.prefill.dense >= pts[i - 1]!.prefill.dense);
    }
    for (const p of pts.filter((q) => q.position >= 4096)) {
      assert.ok(p.decode.dsa < p.decode.dense && p.prefill.dsa < p.prefill.dense, `at ${p.position}`);
      if (p.position >= 32768) assert.ok(p.decodeBytes.dsa < p.decodeBytes.dense, `bytes at ${p.position}`);
    }
  });
});

describe('plan: deepseek_v3 (no indexer) and bad input', () => {
  it('without an indexer DSA = dense and the cache is the latent only', () => {
    const p = planModel(v3, { weights: 'bf16', kv: 'fp8', context: 50000, batch: 2 });
    assert.equal(p.flops.decode.dsa.total, p.flops.decode.dense.total);
    assert.equal(p.flops.prefill.dsa.total, p.flops.prefill.dense.total);
    assert.deepEqual(p.decodeBytes.dsa, p.decodeBytes.dense);
    assert.deepEqual(cacheBytesPerToken(v3, 'fp8').perLayer, { mla: 656, indexer: 0 });
    assert.equal(p.cache.total, 2 * 50000 * 656 * 61);
    assert.equal(p.params.indexer, 0);
    near(p.params.total, 671e9, 0.01, 'V3 total');
  });

  it('rejects bad options with clear errors and warns past the trained positions', () => {
    const o = { weights: 'fp8', kv: 'fp8', context: 10, batch: 1 } as const;
    assert.throws(() => planModel(v32, { ...o, context: -1 }), (e: Error) => e instanceof PlanError && /context must be a non-negative integer/.test(e.message));
    assert.throws(() => planModel(v32, { ...o, context: 1.5 }), /context must be a non-negative integer/);
    assert.throws(() => planModel(v32, { ...o, batch: 0 }), /batch must be a positive integer/);
    assert.throws(() => planModel(v32, { ...o, weights: 'int4' as never }), /weight dtype must be one of fp8, bf16, f32, q8/);
    assert.throws(() => planModel(v32, { ...o, kv: 'f32' as never }), /cache dtype must be one of fp8, bf16/);
    assert.throws(() => flopsPerToken(v32, -3, 'decode', 'dsa'), /position must be a non-negative integer/);
    assert.deepEqual(planModel(v32, { ...o, context: 163839 }).warnings, []);
    assert.match(planModel(v32, { ...o, context: 163840 }).warnings[0]!, /beyond max_position_embeddings \(163840\)/);
  });
});
