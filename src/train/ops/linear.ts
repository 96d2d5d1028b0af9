// y = x · Wᵀ with W stored [out, in] (the checkpoint layout), through the swappable gemm.
import { gemm } from '../autograd/gemm.js';
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function linear(x: Tensor, w: Tensor): Tensor {
  const K = x.cols;
  const M = x.rows;
  if (w.shape.length !== 2 || w.shape[1] !== K) throw new Error(`linear ${w.name}: weight ${JSON.stringify(w.shape)} does not take inputs of width ${K}`);
  const N = w.shape[0]!;
  const y = new Float32Array(M * N);
  gemm(x.data, w.data, y, M, N, K, false, true);
  return makeResult(y, [...x.shape.slice(0, -1), N], [x, w], (g) => {
    if (x.requiresGrad) gemm(g, w.data, x.gradBuf(), M, K, N, false, false, true);
    if (w.requiresGrad) gemm(g, x.data, w.gradBuf(), N, K, M, true, false, true);
  });
}
