import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromArray } from '../autograd/tensor.js';
import { AdamW } from './adamw.js';
import { clipGradNorm } from './clip.js';
import { learningRate } from './schedule.js';

test('AdamW: first step moves each coordinate by ≈lr against its gradient; decay only where marked', () => {
  const a = fromArray([1, -2], [2], true);
  const b = fromArray([1, -2], [2], true);
  a.grad = Float32Array.of(0.5, -3);
  b.grad = Float32Array.of(0.5, -3);
  const opt = new AdamW([{ tensor: a, decay: true }, { tensor: b, decay: false }], { weightDecay: 0.5 });
  opt.update(0.1);
  // bias-corrected m/√v = sign(g) on the first step
  assert.ok(Math.abs(b.data[0]! - 0.9) < 1e-6 && Math.abs(b.data[1]! - -1.9) < 1e-6);
  assert.ok(Math.abs(a.data[0]! - (1 * (1 - 0.05) - 0.1)) < 1e-6);
  assert.ok(Math.abs(a.data[1]! - (-2 * (1 - 0.05) + 0.1)) < 1e-6);
});

test('AdamW minimises a quadratic', () => {
  const x = fromArray([3, -4, 5], [3], true);
  const opt = new AdamW([{ tensor: x, decay: false }], { beta2: 0.999 });
  for (let i = 0; i < 500; i++) {
    x.grad = Float32Array.from(x.data, (v) => 2 * v);
    opt.update(0.05);
  }
  for (const v of x.data) assert.ok(Math.abs(v) < 0.05, `${v}`);
});

test('warm-up then cosine schedule', () => {
  const s = { peak: 1e-3, min: 1e-4, warmup: 10, total: 110 };
  assert.ok(Math.abs(learningRate(s, 0) - 1e-4) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 9) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 60) - 5.5e-4) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 110) - 1e-4) < 1e-12);
  assert.ok(learningRate(s, 30) > learningRate(s, 31));
});

test('global-norm clipping scales all gradients together, leaves small ones alone', () => {
  const a = fromArray([0, 0], [2], true);
  const b = fromArray([0], [1], true);
  a.grad = Float32Array.of(3, 0);
  b.grad = Float32Array.of(4);
  assert.equal(clipGradNorm([a, b], 1), 5);
  assert.ok(Math.abs(a.grad[0]! - 0.6) < 1e-6 && Math.abs(b.grad[0]! - 0.8) < 1e-6);
  assert.ok(Math.abs(clipGradNorm([a, b], 10) - 1) < 1e-5);
  assert.ok(Math.abs(b.grad[0]! - 0.8) < 1e-6);
});
