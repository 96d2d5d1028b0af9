// Elementwise arithmetic and reductions to a scalar (loss bookkeeping).
import { makeResult, type Tensor } from '../autograd/tensor.js';

function sameSize(a: Tensor, b: Tensor, op: string): void {
  if (a.size !== b.size) throw new Error(`${op}: sizes differ (${JSON.stringify(a.shape)} vs ${JSON.stringify(b.shape)})`);
}

export function add(a: Tensor, b: Tensor): Tensor {
  sameSize(a, b, 'add');
  const n = a.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = a.data[i]! + b.data[i]!;
  return makeResult(y, a.shape.slice(), [a, b], (g) => {
    if (a.requiresGrad) { const ga = a.gradBuf(); for (let i = 0; i < n; i++) ga[i] += g[i]!; }
    if (b.requiresGrad) { const gb = b.gradBuf(); for (let i = 0; i < n; i++) gb[i] += g[i]!; }
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameSize(a, b, 'mul');
  const n = a.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = a.data[i]! * b.data[i]!;
  return makeResult(y, a.shape.slice(), [a, b], (g) => {
    if (a.requiresGrad) { const ga = a.gradBuf(); for (let i = 0; i < n; i++) ga[i] += g[i]! * b.data[i]!; }
    if (b.requiresGrad) { const gb = b.gradBuf(); for (let i = 0; i < n; i++) gb[i] += g[i]! * a.data[i]!; }
  });
}

export function scale(a: Tensor, c: number): Tensor {
  const n = a.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = a.data[i]! * c;
  return makeResult(y, a.shape.slice(), [a], (g) => {
    const ga = a.gradBuf();
    for (let i = 0; i < n; i++) ga[i] += g[i]! * c;
  });
}

/** Σ a (double accumulation) → scalar [1]. */
export function sum(a: Tensor): Tensor {
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i]!;
  return makeResult(Float32Array.of(s), [1], [a], (g) => {
    const ga = a.gradBuf();
    const gv = g[0]!;
    for (let i = 0; i < a.size; i++) ga[i] += gv;
  });
}

/** Σ a ⊙ w for a constant w → scalar [1]; turns any output into a scalar for gradient checks. */
export function dotConst(a: Tensor, w: Float32Array): Tensor {
  if (w.length !== a.size) throw new Error(`dotConst: ${w.length} weights for ${a.size} values`);
  let s = 0;
  for (let i = 0; i < a.size; i++) s += a.data[i]! * w[i]!;
  return makeResult(Float32Array.of(s), [1], [a], (g) => {
    const ga = a.gradBuf();
    const gv = g[0]!;
    for (let i = 0; i < a.size; i++) ga[i] += gv * w[i]!;
  });
}

/** Σ_i c_i · t_i over scalars, skipping nulls — combines the loss terms. */
export function weightedSum(terms: [Tensor | null, number][]): Tensor {
  const used = terms.filter((t): t is [Tensor, number] => t[0] !== null);
  let s = 0;
  for (const [t, c] of used) s += t.item() * c;
  return makeResult(Float32Array.of(s), [1], used.map((t) => t[0]), (g) => {
    for (const [t, c] of used) if (t.requiresGrad) t.gradBuf()[0] += g[0]! * c;
  });
}
