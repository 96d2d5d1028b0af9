// Every differentiable op's backward against central finite differences (small shapes, fixed seeds).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradCheck } from '../autograd/gradcheck.js';
import { Tensor } from '../autograd/tensor.js';
import { Rng } from '../random.js';
import { parseConfig } from '../../model/config.js';
import { sigmoid, relu, silu, swiglu } from './activations.js';
import { add, dotConst, mul, scale, sum } from './arith.js';
import { attentionTarget, mlaAttention } from './attention.js';
import { sequenceBalanceLoss } from './balanceLoss.js';
import { combineExperts } from './combine.js';
import { crossEntropy } from './crossEntropy.js';
import { embedding } from './embedding.js';
import { indexerScore } from './indexerScore.js';
import { klDivergence } from './kl.js';
import { layerNorm } from './layernorm.js';
import { linear } from './linear.js';
import { rmsNorm } from './rmsnorm.js';
import { rope } from './rope.js';
import { dispatch, route } from './router.js';
import { concatCols, gatherRows, reshape, sliceCols, sliceSeq } from './shape.js';
import { logSoftmax, softmax } from './softmax.js';
import { ropeTable } from './yarn.js';

const rng = new Rng(1234);

function rand(shape: number[], std = 1, name = ''): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(rng.fillNormal(new Float32Array(n), std), shape, true, name);
}

/** Scalarises any output with fixed random weights so every output coordinate is exercised. */
function probe(out: Tensor, seed: number): Tensor {
  const r = new Rng(seed);
  return dotConst(out, r.fillNormal(new Float32Array(out.size), 1));
}

function check(name: string, f: () => Tensor, inputs: Tensor[], opts = {}): void {
  const bad = gradCheck(f, inputs, opts);
  assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad.slice(0, 3))}`);
}

/** Values kept away from a kink at 0 so ±eps never crosses it. */
function awayFromZero(t: Tensor, gap: number): Tensor {
  for (let i = 0; i < t.size; i++) if (Math.abs(t.data[i]!) < gap) t.data[i] = t.data[i]! < 0 ? -gap - 0.1 : gap + 0.1;
  return t;
}

test('linear, add, mul, scale, sum', () => {
  const x = rand([5, 7], 1, 'x');
  const w = rand([3, 7], 1, 'w');
  const y = rand([5, 3], 1, 'y');
  check('linear', () => probe(linear(x, w), 1), [x, w]);
  check('add/mul/scale', () => sum(scale(mul(add(linear(x, w), y), y), 0.7)), [x, w, y]);
});

test('gemm paths agree with a naive product for odd sizes (via linear forward and backward)', () => {
  const x = rand([6, 9], 1, 'x');
  const w = rand([5, 9], 1, 'w');
  const out = linear(x, w);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let k = 0; k < 9; k++) s += x.data[i * 9 + k]! * w.data[j * 9 + k]!;
      assert.ok(Math.abs(out.data[i * 5 + j]! - s) < 1e-5);
    }
  }
  check('linear odd', () => probe(linear(x, w), 2), [x, w]);
});

test('embedding gather (repeated ids accumulate)', () => {
  const table = rand([6, 4], 1, 'E');
  const ids = Int32Array.from([1, 3, 1, 5]);
  check('embedding', () => probe(embedding(table, ids), 3), [table]);
});

test('RMSNorm and LayerNorm with bias', () => {
  const x = rand([4, 8], 1.5, 'x');
  const g = rand([8], 1, 'g');
  const b = rand([8], 1, 'b');
  check('rmsNorm', () => probe(rmsNorm(x, g, 1e-6), 4), [x, g]);
  check('layerNorm', () => probe(layerNorm(x, g, b, 1e-6), 5), [x, g, b]);
});

test('activations: sigmoid, SiLU, ReLU, SwiGLU', () => {
  const x = awayFromZero(rand([3, 6], 1.5, 'x'), 0.05);
  const u = rand([3, 6], 1, 'u');
  check('sigmoid', () => probe(sigmoid(x), 6), [x]);
  check('silu', () => probe(silu(x), 7), [x]);
  check('relu', () => probe(relu(x), 8), [x]);
  check('swiglu', () => probe(swiglu(x, u), 9), [x, u]);
});

test('softmax, log-softmax, cross-entropy with ignored targets', () => {
  const x = rand([4, 5], 2, 'x');
  check('softmax', () => probe(softmax(x), 10), [x]);
  check('logSoftmax', () => probe(logSoftmax(x), 11), [x]);
  check('crossEntropy', () => crossEntropy(x, Int32Array.from([0, 4, -1, 2])), [x]);
});

test('shape ops: reshape, concat, slice, gather, sliceSeq', () => {
  const a = rand([4, 3], 1, 'a');
  const b = rand([4, 2], 1, 'b');
  check('concat', () => probe(concatCols([a, b]), 12), [a, b]);
  check('slice', () => probe(sliceCols(concatCols([a, b]), 1, 4), 13), [a, b]);
  check('reshape', () => probe(reshape(a, [2, 6]), 14), [a]);
  check('gather', () => probe(gatherRows(a, Int32Array.from([3, 0, 3])), 15), [a]);
  check('sliceSeq', () => probe(sliceSeq(a, 2, 2, 1, 1), 16), [a]);
});

const yarnCfg = parseConfig({
  model_type: 'deepseek_v3', vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1,
  num_attention_heads: 2, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4,
  rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 4, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
});

test('RoPE interleaved and half-split on strided head slices', () => {
  const tab = ropeTable(yarnCfg, 16);
  const x = rand([6, 2 * 7], 1, 'x');
  check('rope interleaved', () => probe(rope(x, tab, { S: 3, heads: 2, stride: 7, offset: 3, interleaved: true }), 17), [x]);
  check('rope half', () => probe(rope(x, tab, { S: 3, heads: 2, stride: 7, offset: 0, interleaved: false }), 18), [x]);
  // rotation preserves norms of each rotated slice
  const y = rope(x, tab, { S: 3, heads: 2, stride: 7, offset: 3, interleaved: true });
  let nx = 0, ny = 0;
  for (let i = 0; i < x.size; i++) { nx += x.data[i]! ** 2; ny += y.data[i]! ** 2; }
  assert.ok(Math.abs(nx - ny) < 1e-4 * nx);
});

test('MLA attention core: dense causal and with a selection mask', () => {
  const B = 2, S = 4, H = 2, dn = 3, dr = 2, dv = 3;
  const q = rand([B * S, H * (dn + dr)], 1, 'q');
  const kv = rand([B * S, H * (dn + dv)], 1, 'kv');
  const pe = rand([B * S, dr], 1, 'pe');
  const dims = { B, S, heads: H, nope: dn, rope: dr, v: dv, scale: 0.6 };
  check('attention dense', () => probe(mlaAttention(q, kv, pe, dims, null).out, 19), [q, kv, pe]);
  const allowed = new Uint8Array(B * S * S);
  for (let r = 0; r < B * S; r++) for (let t = 0; t < S; t++) allowed[r * S + t] = (r + t) % 3 !== 1 ? 1 : 0;
  check('attention sparse', () => probe(mlaAttention(q, kv, pe, dims, allowed).out, 20), [q, kv, pe]);
  // probabilities: rows sum to 1 over the causal∩selected set, zero elsewhere
  const { probs } = mlaAttention(q, kv, pe, dims, allowed);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let s = 0; s < S; s++) {
    let z = 0;
    for (let t = 0; t < S; t++) {
      const p = probs[((b * H + h) * S + s) * S + t]!;
      if (t > s || !allowed[(b * S + s) * S + t]) assert.equal(p, 0);
      z += p;
    }
    const any = Array.from({ length: s + 1 }, (_, t) => allowed[(b * S + s) * S + t]).some(Boolean);
    assert.ok(Math.abs(z - (any ? 1 : 0)) < 1e-5);
  }
  const tgt = attentionTarget(probs, B, H, S);
  assert.ok(Math.abs(tgt.subarray(S * 3, S * 4).reduce((a, b) => a + b, 0) - 1) < 1e-5);
});

test('indexer score and KL divergence (full and masked)', () => {
  const B = 1, S = 5, H = 3, D = 4;
  const k = rand([B * S, D], 1, 'k');
  const w = rand([B * S, H], 1, 'w');
  // redraw q until every causal q·k is away from the ReLU kink (seeded, so deterministic)
  let q = rand([B * S, H * D], 1, 'q');
  const minDot = () => {
    let m = Infinity;
    for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) for (let t = 0; t <= s; t++) {
      let dot = 0;
      for (let i = 0; i < D; i++) dot += q.data[(s * H + h) * D + i]! * k.data[t * D + i]!;
      m = Math.min(m, Math.abs(dot));
    }
    return m;
  };
  for (let tries = 0; minDot() < 0.05 && tries < 200; tries++) q = rand([B * S, H * D], 1, 'q');
  assert.ok(minDot() >= 0.05);
  check('indexerScore', () => probe(indexerScore(q, k, w, { B, S, heads: H, headDim: D }), 21), [q, k, w], { eps: 3e-3 });
  const logits = rand([S, S], 1, 'I');
  const tgt = new Float32Array(S * S);
  const causal = new Uint8Array(S * S);
  for (let s = 0; s < S; s++) for (let t = 0; t <= s; t++) { causal[s * S + t] = 1; tgt[s * S + t] = rng.next() + 0.1; }
  check('kl causal', () => klDivergence(logits, tgt, causal), [logits]);
  const sub = Uint8Array.from(causal, (v, i) => (v && i % 2 === 0 ? 1 : 0));
  check('kl masked', () => klDivergence(logits, tgt, sub), [logits]);
  // KL is zero when the logits reproduce the (renormalised) target
  const exact = new Tensor(Float32Array.from(tgt, (p) => (p > 0 ? Math.log(p) : 0)), [S, S], true);
  assert.ok(klDivergence(exact, tgt, causal).item() < 1e-6);
});

test('router: group-limited selection, bias only in selection, renormalised scaled weights', () => {
  const N = 4, E = 8;
  const z = rand([N, E], 1.5, 'z');
  const bias = new Float32Array(E);
  const spec = { experts: E, topk: 3, nGroup: 4, topkGroup: 2, normTopkProb: true, scale: 2.5 };
  const s0 = sigmoid(z);
  const r0 = route(s0, bias, spec);
  for (let n = 0; n < N; n++) {
    let tot = 0;
    for (let j = 0; j < 3; j++) tot += r0.weights.data[n * 3 + j]!;
    assert.ok(Math.abs(tot - 2.5) < 1e-5);
    const groups = new Set(Array.from(r0.experts.subarray(n * 3, n * 3 + 3), (e) => e >> 1));
    assert.ok(groups.size <= 2);
  }
  // a large bias forces expert 7 into every selection but its weight is still the unbiased score
  bias[7] = 100;
  const r1 = route(s0, bias, spec);
  for (let n = 0; n < N; n++) {
    const sel = Array.from(r1.experts.subarray(n * 3, n * 3 + 3));
    assert.ok(sel.includes(7));
    const tot = sel.reduce((a, e) => a + s0.data[n * E + e]!, 0);
    const j = sel.indexOf(7);
    assert.ok(Math.abs(r1.weights.data[n * 3 + j]! - (2.5 * s0.data[n * E + 7]!) / tot) < 1e-5);
  }
  check('route weights', () => probe(route(sigmoid(z), bias, spec).weights, 22), [z], { eps: 1e-3 });
});

test('expert combine and sequence-wise balance loss', () => {
  const N = 5, E = 4, k = 2, D = 3;
  const z = rand([N, E], 1, 'z');
  const bias = new Float32Array(E);
  const spec = { experts: E, topk: k, nGroup: 1, topkGroup: 1, normTopkProb: true, scale: 1.5 };
  const x = rand([N, D], 1, 'x');
  const wts = Array.from({ length: E }, (_, e) => rand([D, D], 1, `w${e}`));
  const f = () => {
    const r = route(sigmoid(z), bias, spec);
    const d = dispatch(r.experts, N, k, E);
    const outs = [];
    for (let e = 0; e < E; e++) if (d.rows[e]!.length) outs.push({ y: linear(gatherRows(x, d.rows[e]!), wts[e]!), rows: d.rows[e]!, slots: d.slots[e]! });
    return probe(combineExperts(outs, r.weights, N, D), 23);
  };
  check('combine', f, [z, x, ...wts], { eps: 1e-3 });
  const sel = route(sigmoid(z), bias, spec).experts;
  check('balance', () => sequenceBalanceLoss(sigmoid(z), sel, 1, N, k, 0.5), [z]);
});
