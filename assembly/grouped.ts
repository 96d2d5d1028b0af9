import { FMT_BF16, FMT_F32, QB } from './common';
import { gemv_bf16, gemv_f32, gemv_fp8 } from './gemv';
import { gemm_q8 } from './q8';

// ---- grouped GEMV: G small matrices stacked as one weight, one input row each ------------------
// The absorbed MLA products (q_nope_h·W_UK_h, u_h·W_UVᵀ_h for every head h) in one call instead of H.

/** Rows [n0,n1) of W (G groups of Nh rows, row n reads x row ⌊n/Nh⌋) for f32/bf16/fp8 weights. */
export function gemv_grouped(fmt: i32, w: usize, sc: usize, x: usize, y: usize, K: i32, Nh: i32, n0: i32, n1: i32): void {
  let n = n0;
  while (n < n1) {
    const g = n / Nh;
    const e = min(n1, (g + 1) * Nh);
    const xg = x + ((<usize>g * <usize>K) << 2);
    if (fmt == FMT_F32) gemv_f32(w, xg, y, K, n, e);
    else if (fmt == FMT_BF16) gemv_bf16(w, xg, y, K, n, e);
    else gemv_fp8(w, sc, xg, y, K, n, e);
    n = e;
  }
}

/** The q8 form: x rows already quantised (xq [G,Kp], xs [G,Kp/32]). */
export function gemv_q8_grouped(wq: usize, ws: usize, xq: usize, xs: usize, y: usize, Kp: i32, Nh: i32, n0: i32, n1: i32): void {
  const sb = <usize>(Kp / QB) << 2;
  let n = n0;
  while (n < n1) {
    const g = n / Nh;
    const e = min(n1, (g + 1) * Nh);
    gemm_q8(wq, ws, xq + <usize>g * <usize>Kp, xs + <usize>g * sb, y, 1, 0, Kp, n, e, 0);
    n = e;
  }
}

