// Row gather from an embedding table [vocab, dim]; backward scatter-adds into the used rows only.
// An id of -1 yields a zero row (the MTP input at position 0, which the engines mask).
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function embedding(table: Tensor, ids: Int32Array): Tensor {
  const [V, D] = table.shape as [number, number];
  const n = ids.length;
  const y = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (id === -1) continue;
    if (id < 0 || id >= V) throw new Error(`embedding ${table.name}: token id ${id} outside [0, ${V})`);
    y.set(table.data.subarray(id * D, id * D + D), i * D);
  }
  return makeResult(y, [n, D], [table], (g) => {
    const gt = table.gradBuf();
    for (let i = 0; i < n; i++) {
      if (ids[i] === -1) continue;
      const o = ids[i]! * D;
      for (let d = 0; d < D; d++) gt[o + d] += g[i * D + d]!;
    }
  });
}
