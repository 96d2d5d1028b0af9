import { expv, hsum } from './common';

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

// ---- causal softmax of materialised attention scores ------------------------------------------------

/**
 * Rows [i0,i1) of s [rows, T]: row i sees keys 0..last0+i; those become softmax(scale·s), the rest 0.
 * Prefill attention's probabilities, written in place for the P·V product.
 */
export function softmax_causal(s: usize, T: i32, last0: i32, scale: f32, i0: i32, i1: i32): void {
  const sc = f32x4.splat(scale);
  for (let i = i0; i < i1; i++) {
    const row = s + ((<usize>i * <usize>T) << 2);
    const L = min(T, last0 + i + 1);
    let mx: f32 = -Infinity;
    for (let t = 0; t < L; t++) mx = max(mx, load<f32>(row + (<usize>t << 2)) * scale);
    const mv = f32x4.splat(mx);
    let zv = f32x4.splat(0);
    let t = 0;
    for (; t + 4 <= L; t += 4) {
      const o = <usize>t << 2;
      const e = expv(f32x4.sub(f32x4.mul(v128.load(row + o), sc), mv));
      v128.store(row + o, e);
      zv = f32x4.add(zv, e);
    }
    let z = hsum(zv);
    for (; t < L; t++) {
      const e = Mathf.exp(load<f32>(row + (<usize>t << 2)) * scale - mx);
      store<f32>(row + (<usize>t << 2), e);
      z += e;
    }
    const inv = f32x4.splat(1 / z);
    t = 0;
    for (; t + 4 <= L; t += 4) v128.store(row + (<usize>t << 2), f32x4.mul(v128.load(row + (<usize>t << 2)), inv));
    for (; t < L; t++) store<f32>(row + (<usize>t << 2), load<f32>(row + (<usize>t << 2)) / z);
    if (L < T) memory.fill(row + (<usize>L << 2), 0, <usize>(T - L) << 2);
  }
}

/**
 * softmax_causal for rows that may carry a DSA selection: row i's selected keys are idx[off[i] .. off[i+1])
 * (an empty range: every key 0..last0+i, as softmax_causal). Selected keys past the row's last are ignored,
 * and a key listed twice counts once; everything unselected becomes 0. `mask` is per-thread scratch of T bytes.
 */
export function softmax_sel(s: usize, T: i32, last0: i32, scale: f32, idx: usize, off: usize, mask: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    const a = load<i32>(off + (<usize>i << 2)), b = load<i32>(off + (<usize>(i + 1) << 2));
    if (a == b) { softmax_causal(s, T, last0, scale, i, i + 1); continue; }
    const row = s + ((<usize>i * <usize>T) << 2);
    const L = min(T, last0 + i + 1);
    memory.fill(mask, 0, <usize>L);
    for (let j = a; j < b; j++) {
      const t = load<i32>(idx + (<usize>j << 2));
      if (t >= 0 && t < L) store<u8>(mask + <usize>t, 1);
    }
    let mx: f32 = -Infinity;
    for (let t = 0; t < L; t++) if (load<u8>(mask + <usize>t)) mx = max(mx, load<f32>(row + (<usize>t << 2)) * scale);
    let z: f32 = 0;
    for (let t = 0; t < L; t++) {
      const o = row + (<usize>t << 2);
      const e: f32 = load<u8>(mask + <usize>t) ? Mathf.exp(load<f32>(o) * scale - mx) : 0;
      store<f32>(o, e);
      z += e;
    }
    for (let t = 0; t < L; t++) store<f32>(row + (<usize>t << 2), load<f32>(row + (<usize>t << 2)) / z);
    if (L < T) memory.fill(row + (<usize>L << 2), 0, <usize>(T - L) << 2);
  }
}
