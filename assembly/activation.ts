import { expv } from './common';

// ---- SwiGLU ------------------------------------------------------------------------------------

/** g[i] = silu(g[i])·u[i] = g/(1+e^-g)·u for i in [i0,i1): the MLP's gate, four lanes at a time. */
export function swiglu(g: usize, u: usize, i0: i32, i1: i32): void {
  let i = i0;
  const one = f32x4.splat(1);
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    const a = v128.load(g + o);
    const s = f32x4.div(a, f32x4.add(one, expv(f32x4.neg(a))));
    v128.store(g + o, f32x4.mul(s, v128.load(u + o)));
  }
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    const a = load<f32>(g + o);
    store<f32>(g + o, a / (1 + Mathf.exp(-a)) * load<f32>(u + o));
  }
}
