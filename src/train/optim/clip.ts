// Global-norm gradient clipping: if ‖g‖₂ over all tensors exceeds maxNorm, scale every gradient by
// maxNorm/‖g‖. Returns the norm before clipping (for logging).
import type { Tensor } from '../autograd/tensor.js';

export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let ss = 0;
  for (const p of params) {
    const g = p.grad;
    if (!g) continue;
    for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(ss);
  if (maxNorm > 0 && norm > maxNorm) {
    const c = maxNorm / (norm + 1e-6);
    for (const p of params) {
      const g = p.grad;
      if (!g) continue;
      for (let i = 0; i < g.length; i++) g[i]! *= c;
    }
  }
  return norm;
}
