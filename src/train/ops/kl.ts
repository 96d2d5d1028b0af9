// KL(p ‖ softmax(logits)) per row over the entries a mask allows, averaged over the rows that allow
// any: the indexer loss Σ_t KL(p_t,: ‖ softmax(I_t,:)) (spec §14), with the target p a constant.
// p is renormalised over the allowed set, so the sparse stage's "restricted to S_t" form is the same op.
import { makeResult, type Tensor } from '../autograd/tensor.js';

/**
 * logits [R, L]; target [R, L] (non-negative); allowed [R, L] (1 = in the support) or null for all.
 * Returns a scalar: mean over non-empty rows of Σ_i p_i (log p_i − log q_i).
 */
export function klDivergence(logits: Tensor, target: Float32Array, allowed: Uint8Array | null): Tensor {
  const L = logits.cols;
  const R = logits.rows;
  if (target.length !== R * L || (allowed && allowed.length !== R * L)) throw new Error('klDivergence: target/mask sizes do not match the logits');
  const x = logits.data;
  const lse = new Float64Array(R);
  const psum = new Float64Array(R);
  let rows = 0;
  let total = 0;
  for (let r = 0; r < R; r++) {
    const o = r * L;
    let m = -Infinity;
    let ps = 0;
    for (let i = 0; i < L; i++) {
      if (allowed && !allowed[o + i]) continue;
      if (x[o + i]! > m) m = x[o + i]!;
      ps += target[o + i]!;
    }
    if (m === -Infinity || ps <= 0) continue;
    let z = 0;
    for (let i = 0; i < L; i++) if (!allowed || allowed[o + i]) z += Math.exp(x[o + i]! - m);
    const l = m + Math.log(z);
    lse[r] = l;
    psum[r] = ps;
    let kl = 0;
    for (let i = 0; i < L; i++) {
      if (allowed && !allowed[o + i]) continue;
      const p = target[o + i]! / ps;
      if (p > 0) kl += p * (Math.log(p) - (x[o + i]! - l));
    }
    total += kl;
    rows++;
  }
  const denom = Math.max(rows, 1);
  return makeResult(Float32Array.of(total / denom), [1], [logits], (g) => {
    const gl = logits.gradBuf();
    const c = g[0]! / denom;
    for (let r = 0; r < R; r++) {
      if (psum[r] === 0) continue;
      const o = r * L;
      const ps = psum[r]!;
      const l = lse[r]!;
      // ∂KL/∂x_i = q_i − p_i on the support
      for (let i = 0; i < L; i++) {
        if (allowed && !allowed[o + i]) continue;
        gl[o + i] += c * (Math.exp(x[o + i]! - l) - target[o + i]! / ps);
      }
    }
  });
}
