// Mean token cross-entropy from logits [N, V] (fused log-softmax); targets < 0 are ignored.
// The forward keeps the softmax rows for the backward pass: with an 8K vocabulary the exponentials
// are a sizeable share of a training step, and this computes each one once.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function crossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  const V = logits.cols;
  const N = logits.rows;
  if (targets.length !== N) throw new Error(`crossEntropy: ${targets.length} targets for ${N} rows`);
  const x = logits.data;
  const probs = logits.requiresGrad ? new Float32Array(N * V) : null;
  let loss = 0;
  let count = 0;
  for (let r = 0; r < N; r++) {
    const t = targets[r]!;
    if (t < 0) continue;
    if (t >= V) throw new Error(`crossEntropy: target ${t} outside [0, ${V})`);
    const o = r * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) if (x[o + i]! > m) m = x[o + i]!;
    let s = 0;
    if (probs) {
      for (let i = 0; i < V; i++) { const e = Math.exp(x[o + i]! - m); probs[o + i] = e; s += e; }
      const inv = 1 / s;
      for (let i = 0; i < V; i++) probs[o + i]! *= inv;
    } else {
      for (let i = 0; i < V; i++) s += Math.exp(x[o + i]! - m);
    }
    loss += m + Math.log(s) - x[o + t]!;
    count++;
  }
  const denom = Math.max(count, 1);
  return makeResult(Float32Array.of(loss / denom), [1], [logits], (g) => {
    const gl = logits.gradBuf();
    const c = g[0]! / denom;
    for (let r = 0; r < N; r++) {
      const t = targets[r]!;
      if (t < 0) continue;
      const o = r * V;
      for (let i = 0; i < V; i++) gl[o + i] += c * probs![o + i]!;
      gl[o + t] -= c;
    }
  });
}
