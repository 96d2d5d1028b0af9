// Central finite-difference check of the tape's gradients (used by the op and model tests).
import { backward, type Tensor } from './tensor.js';

export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** at most this many coordinates per input (chosen evenly), to keep checks fast */
  samples?: number;
}

export interface GradMismatch {
  input: string;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * `loss` builds a scalar from the current values of `inputs` (it is re-run for every perturbation).
 * Returns the coordinates whose analytic and numeric derivatives disagree (empty = pass).
 */
export function gradCheck(loss: () => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradMismatch[] {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 2e-2;
  const atol = opts.atol ?? 1e-4;
  const samples = opts.samples ?? 24;
  for (const t of inputs) t.grad = null;
  const root = loss();
  backward(root);
  const bad: GradMismatch[] = [];
  inputs.forEach((t, ti) => {
    const analytic = t.grad ? Float32Array.from(t.grad) : new Float32Array(t.size);
    const n = t.size;
    const step = Math.max(1, Math.floor(n / samples));
    for (let i = (ti * 7) % step; i < n; i += step) {
      const x0 = t.data[i]!;
      t.data[i] = x0 + eps;
      const up = t.data[i]!;
      const fp = loss().item();
      t.data[i] = x0 - eps;
      const dn = t.data[i]!;
      const fm = loss().item();
      t.data[i] = x0;
      const numeric = (fp - fm) / (up - dn);
      const a = analytic[i]!;
      if (Math.abs(a - numeric) > atol + rtol * Math.max(Math.abs(a), Math.abs(numeric))) {
        bad.push({ input: t.name || `#${ti}`, index: i, analytic: a, numeric });
      }
    }
  });
  return bad;
}
