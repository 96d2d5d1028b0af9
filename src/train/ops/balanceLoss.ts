// DeepSeek-V3's sequence-wise balance loss (complementary to the aux-loss-free bias):
//   L = α · mean_b Σ_i f_i · P_i,  f_i = E/(k·S) · #{t : i chosen at t},  P_i = 1/S · Σ_t s'_{t,i},
// s' = scores normalised over all experts per token. f is a count (no gradient); P carries it.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function sequenceBalanceLoss(scores: Tensor, experts: Int32Array, B: number, S: number, topk: number, alpha: number): Tensor {
  const E = scores.cols;
  if (scores.rows !== B * S || experts.length !== B * S * topk) throw new Error('sequenceBalanceLoss: shapes do not match B·S tokens');
  const sd = scores.data;
  const f = new Float64Array(B * E);
  for (let b = 0; b < B; b++) {
    for (let i = b * S * topk; i < (b + 1) * S * topk; i++) f[b * E + experts[i]!] += E / (topk * S);
  }
  const z = new Float64Array(B * S);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < S; t++) {
      const o = (b * S + t) * E;
      let zt = 0;
      for (let e = 0; e < E; e++) zt += sd[o + e]!;
      z[b * S + t] = zt;
      for (let e = 0; e < E; e++) loss += (f[b * E + e]! * sd[o + e]!) / zt;
    }
  }
  const c = alpha / (S * B);
  return makeResult(Float32Array.of(loss * c), [1], [scores], (g) => {
    const gs = scores.gradBuf();
    const gv = g[0]! * c;
    // ∂/∂s_j of Σ_i f_i s_i/Z = (f_j − Σ_i f_i s_i/Z)/Z
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S; t++) {
        const o = (b * S + t) * E;
        const zt = z[b * S + t]!;
        let fs = 0;
        for (let e = 0; e < E; e++) fs += f[b * E + e]! * sd[o + e]!;
        fs /= zt;
        for (let e = 0; e < E; e++) gs[o + e] += (gv * (f[b * E + e]! - fs)) / zt;
      }
    }
  });
}
