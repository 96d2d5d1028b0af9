// Mean token cross-entropy from logits [N, V] (fused log-softmax); targets < 0 are ignored.
import { makeResult, type Tensor } from '../autograd/tensor.js';
import { logSumExp } from './softmax.js';

export function crossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  const V = logits.cols;
  const N = logits.rows;
  if (targets.length !== N) throw new Error(`crossEntropy: ${targets.length} targets for ${N} rows`);
  const lse = new Float64Array(N);
  let loss = 0;
  let count = 0;
  for (let r = 0; r < N; r++) {
    const t = targets[r]!;
    if (t < 0) continue;
    if (t >= V) throw new Error(`crossEntropy: target ${t} outside [0, ${V})`);
    lse[r] = logSumExp(logits.data, r * V, V);
    loss += lse[r]! - logits.data[r * V + t]!;
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
      const l = lse[r]!;
      for (let i = 0; i < V; i++) gl[o + i] += c * Math.exp(logits.data[o + i]! - l);
      gl[o + t] -= c;
    }
  });
}
