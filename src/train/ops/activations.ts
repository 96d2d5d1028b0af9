// Pointwise activations: sigmoid (router scores), SiLU, ReLU, and the fused SwiGLU silu(a) ⊙ b.
import { makeResult, type Tensor } from '../autograd/tensor.js';

function sig(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export function sigmoid(x: Tensor): Tensor {
  const n = x.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = sig(x.data[i]!);
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < n; i++) gx[i] += g[i]! * y[i]! * (1 - y[i]!);
  });
}

export function silu(x: Tensor): Tensor {
  const n = x.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x.data[i]! * sig(x.data[i]!);
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < n; i++) {
      const v = x.data[i]!;
      const s = sig(v);
      gx[i] += g[i]! * s * (1 + v * (1 - s));
    }
  });
}

export function relu(x: Tensor): Tensor {
  const n = x.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x.data[i]! > 0 ? x.data[i]! : 0;
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < n; i++) if (x.data[i]! > 0) gx[i] += g[i]!;
  });
}

/** silu(gate) ⊙ up — the expert/MLP hidden activation, fused to save a pass and a buffer. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (gate.size !== up.size) throw new Error('swiglu: gate and up sizes differ');
  const n = gate.size;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = gate.data[i]!;
    y[i] = (a * sig(a)) * up.data[i]!;
  }
  return makeResult(y, gate.shape.slice(), [gate, up], (g) => {
    const ga = gate.requiresGrad ? gate.gradBuf() : null;
    const gu = up.requiresGrad ? up.gradBuf() : null;
    for (let i = 0; i < n; i++) {
      const a = gate.data[i]!;
      const s = sig(a);
      if (gu) gu[i] += g[i]! * a * s;
      if (ga) ga[i] += g[i]! * up.data[i]! * s * (1 + a * (1 - s));
    }
  });
}
