// Weighted scatter of expert outputs back to their tokens: out[row] += w[slot] · y_e[i].
// Gradients reach both the expert outputs and the gate weights.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export interface ExpertOutput {
  y: Tensor;
  rows: Int32Array;
  slots: Int32Array;
}

export function combineExperts(outputs: ExpertOutput[], weights: Tensor, N: number, D: number): Tensor {
  const out = new Float32Array(N * D);
  const wd = weights.data;
  for (const { y, rows, slots } of outputs) {
    if (y.rows !== rows.length || y.cols !== D) throw new Error('combineExperts: expert output shape does not match its rows');
    for (let i = 0; i < rows.length; i++) {
      const w = wd[slots[i]!]!;
      const oo = rows[i]! * D;
      for (let d = 0; d < D; d++) out[oo + d] += w * y.data[i * D + d]!;
    }
  }
  return makeResult(out, [N, D], [weights, ...outputs.map((o) => o.y)], (g) => {
    const gw = weights.requiresGrad ? weights.gradBuf() : null;
    for (const { y, rows, slots } of outputs) {
      const gy = y.requiresGrad ? y.gradBuf() : null;
      for (let i = 0; i < rows.length; i++) {
        const oo = rows[i]! * D;
        const w = wd[slots[i]!]!;
        let dot = 0;
        for (let d = 0; d < D; d++) {
          dot += g[oo + d]! * y.data[i * D + d]!;
          if (gy) gy[i * D + d] += w * g[oo + d]!;
        }
        if (gw) gw[slots[i]!] += dot;
      }
    }
  });
}
