// AdamW (Loshchilov & Hutter): Adam moments with bias correction; weight decay decoupled from the
// gradient (p ← p − lr·wd·p), applied only to the tensors the caller marks (matrices, not norms/biases).
import type { Tensor } from '../autograd/tensor.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private m = new Map<Tensor, Float32Array>();
  private v = new Map<Tensor, Float32Array>();

  constructor(
    /** the trainable tensors, each with whether it is weight-decayed */
    readonly params: { tensor: Tensor; decay: boolean }[],
    opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
  }

  /** One update with learning rate `lr`; tensors without a gradient this step are left alone. */
  update(lr: number): void {
    this.step++;
    const b1 = this.beta1, b2 = this.beta2;
    const c1 = 1 / (1 - b1 ** this.step);
    const c2 = 1 / (1 - b2 ** this.step);
    for (const { tensor: p, decay } of this.params) {
      const g = p.grad;
      if (!g) continue;
      let m = this.m.get(p);
      let v = this.v.get(p);
      if (!m || !v) {
        m = new Float32Array(p.size);
        v = new Float32Array(p.size);
        this.m.set(p, m);
        this.v.set(p, v);
      }
      const d = p.data;
      const shrink = decay ? 1 - lr * this.weightDecay : 1;
      for (let i = 0; i < d.length; i++) {
        const gi = g[i]!;
        const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
        d[i] = d[i]! * shrink - (lr * mi * c1) / (Math.sqrt(vi * c2) + this.eps);
      }
    }
  }

  /** Moment buffers by tensor (for checkpointing optimiser state later). */
  state(p: Tensor): { m: Float32Array; v: Float32Array } | null {
    const m = this.m.get(p);
    const v = this.v.get(p);
    return m && v ? { m, v } : null;
  }
}
