// RMSNorm over the last dimension: y = γ ⊙ x / sqrt(mean(x²) + eps).
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function rmsNorm(x: Tensor, gamma: Tensor, eps: number): Tensor {
  const D = x.cols;
  const R = x.rows;
  if (gamma.size !== D) throw new Error(`rmsNorm ${gamma.name}: ${gamma.size} weights for width ${D}`);
  const y = new Float32Array(x.size);
  const inv = new Float64Array(R);
  const xd = x.data, gd = gamma.data;
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let ss = 0;
    for (let d = 0; d < D; d++) ss += xd[o + d]! * xd[o + d]!;
    const iv = 1 / Math.sqrt(ss / D + eps);
    inv[r] = iv;
    for (let d = 0; d < D; d++) y[o + d] = gd[d]! * xd[o + d]! * iv;
  }
  return makeResult(y, x.shape.slice(), [x, gamma], (g) => {
    const gx = x.requiresGrad ? x.gradBuf() : null;
    const gg = gamma.requiresGrad ? gamma.gradBuf() : null;
    for (let r = 0; r < R; r++) {
      const o = r * D;
      const iv = inv[r]!;
      if (gg) for (let d = 0; d < D; d++) gg[d] += g[o + d]! * xd[o + d]! * iv;
      if (gx) {
        // dx = iv·(γ⊙g) − x·iv³/D·Σ(γ⊙g⊙x)
        let dot = 0;
        for (let d = 0; d < D; d++) dot += gd[d]! * g[o + d]! * xd[o + d]!;
        const c = (dot * iv * iv * iv) / D;
        for (let d = 0; d < D; d++) gx[o + d] += gd[d]! * g[o + d]! * iv - xd[o + d]! * c;
      }
    }
  });
}
