// LayerNorm with bias over the last dimension (the indexer's k_norm): y = γ ⊙ (x − μ)/sqrt(var + eps) + β.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const D = x.cols;
  const R = x.rows;
  if (gamma.size !== D || beta.size !== D) throw new Error(`layerNorm ${gamma.name}: weight/bias sizes ${gamma.size}/${beta.size} for width ${D}`);
  const y = new Float32Array(x.size);
  const xhat = new Float32Array(x.size);
  const inv = new Float64Array(R);
  const xd = x.data, gd = gamma.data, bd = beta.data;
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let m = 0;
    for (let d = 0; d < D; d++) m += xd[o + d]!;
    m /= D;
    let v = 0;
    for (let d = 0; d < D; d++) { const c = xd[o + d]! - m; v += c * c; }
    const iv = 1 / Math.sqrt(v / D + eps);
    inv[r] = iv;
    for (let d = 0; d < D; d++) {
      const h = (xd[o + d]! - m) * iv;
      xhat[o + d] = h;
      y[o + d] = gd[d]! * h + bd[d]!;
    }
  }
  return makeResult(y, x.shape.slice(), [x, gamma, beta], (g) => {
    const gx = x.requiresGrad ? x.gradBuf() : null;
    const gg = gamma.requiresGrad ? gamma.gradBuf() : null;
    const gb = beta.requiresGrad ? beta.gradBuf() : null;
    for (let r = 0; r < R; r++) {
      const o = r * D;
      if (gg) for (let d = 0; d < D; d++) gg[d] += g[o + d]! * xhat[o + d]!;
      if (gb) for (let d = 0; d < D; d++) gb[d] += g[o + d]!;
      if (gx) {
        // dx = iv·(u − mean(u) − x̂·mean(u⊙x̂)), u = γ⊙g
        let mu = 0, mux = 0;
        for (let d = 0; d < D; d++) { const u = gd[d]! * g[o + d]!; mu += u; mux += u * xhat[o + d]!; }
        mu /= D;
        mux /= D;
        const iv = inv[r]!;
        for (let d = 0; d < D; d++) gx[o + d] += iv * (gd[d]! * g[o + d]! - mu - xhat[o + d]! * mux);
      }
    }
  });
}
