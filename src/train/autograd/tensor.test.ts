import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradCheck } from './gradcheck.js';
import { backward, detach, fromArray, makeResult, type Tensor } from './tensor.js';

function square(x: Tensor, wrong = false): Tensor {
  const y = Float32Array.from(x.data, (v) => v * v);
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < y.length; i++) gx[i] += g[i]! * (wrong ? 3 : 2) * x.data[i]!;
  });
}

function total(x: Tensor): Tensor {
  return makeResult(Float32Array.of(x.data.reduce((a, b) => a + b, 0)), [1], [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < x.size; i++) gx[i] += g[0]!;
  });
}

// Graphs are single-use (like retain_graph=False): backward frees each node's closure.
test('backward accumulates over shared subgraphs (diamond) and stops at detach', () => {
  const x = fromArray([1, 2, 3], [3], true);
  // L = Σ s + Σ s² with s = x² shared by both branches  →  dL/dx = 2x + 4x³
  const s = square(x);
  const a = total(s);
  const b = total(square(s));
  const root = makeResult(Float32Array.of(a.item() + b.item()), [1], [a, b], (g) => { a.gradBuf()[0] += g[0]!; b.gradBuf()[0] += g[0]!; });
  backward(root);
  assert.deepEqual(Array.from(x.grad!), [1, 2, 3].map((v) => 2 * v + 4 * v ** 3));
  x.grad = null;
  backward(total(square(detach(x))));
  assert.equal(x.grad, null);
});

test('gradCheck flags a wrong backward and passes a right one', () => {
  const x = fromArray([0.5, -1, 2], [3], true);
  assert.deepEqual(gradCheck(() => total(square(x)), [x]), []);
  assert.equal(gradCheck(() => total(square(x, true)), [x]).length, 3);
});
