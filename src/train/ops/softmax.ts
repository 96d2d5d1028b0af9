// Row-wise softmax and log-softmax over the last dimension (max-subtracted for range safety).
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function softmax(x: Tensor): Tensor {
  const L = x.cols;
  const R = x.rows;
  const y = new Float32Array(x.size);
  for (let r = 0; r < R; r++) softmaxRow(x.data, y, r * L, L);
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let r = 0; r < R; r++) {
      const o = r * L;
      let dot = 0;
      for (let i = 0; i < L; i++) dot += g[o + i]! * y[o + i]!;
      for (let i = 0; i < L; i++) gx[o + i] += y[o + i]! * (g[o + i]! - dot);
    }
  });
}

export function logSoftmax(x: Tensor): Tensor {
  const L = x.cols;
  const R = x.rows;
  const y = new Float32Array(x.size);
  for (let r = 0; r < R; r++) {
    const o = r * L;
    const lse = logSumExp(x.data, o, L);
    for (let i = 0; i < L; i++) y[o + i] = x.data[o + i]! - lse;
  }
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let r = 0; r < R; r++) {
      const o = r * L;
      let gs = 0;
      for (let i = 0; i < L; i++) gs += g[o + i]!;
      for (let i = 0; i < L; i++) gx[o + i] += g[o + i]! - Math.exp(y[o + i]!) * gs;
    }
  });
}

/** out[o..o+L) = softmax(x[o..o+L)). */
export function softmaxRow(x: Float32Array, out: Float32Array, o: number, L: number): void {
  let m = -Infinity;
  for (let i = 0; i < L; i++) if (x[o + i]! > m) m = x[o + i]!;
  let s = 0;
  for (let i = 0; i < L; i++) {
    const e = Math.exp(x[o + i]! - m);
    out[o + i] = e;
    s += e;
  }
  const inv = 1 / s;
  for (let i = 0; i < L; i++) out[o + i]! *= inv;
}

export function logSumExp(x: Float32Array, o: number, L: number): number {
  let m = -Infinity;
  for (let i = 0; i < L; i++) if (x[o + i]! > m) m = x[o + i]!;
  let s = 0;
  for (let i = 0; i < L; i++) s += Math.exp(x[o + i]! - m);
  return m + Math.log(s);
}
