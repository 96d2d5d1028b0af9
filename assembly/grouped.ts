import { FMT_BF16, FMT_F32, FMT_FP8, QB } from './common';
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


// ---- a list of one-row products in one call (a decode step's MoE experts) -----------------------

/** Item descriptor: 16 i32 at desc + 64·i (q8: D_XW the codes widened to int16, or 0). */
const D_W = 0, D_S = 4, D_X = 8, D_XS = 12, D_Y = 16, D_N = 20, D_K = 24, D_FMT = 28, D_XW = 32;
/** The fmt code of a q8 item (the others are FMT_F32/BF16/FP8). */
const FMT_Q8: i32 = 9;

/**
 * Rows [r0,r1) of the items' rows counted one after another (item i's rows follow item i−1's): each item is
 * w [N,K] (format fmt, scales s) times its own input row x (q8: codes x, scales xs, K = Kp) into y.
 */
export function gemv_list(desc: usize, count: i32, r0: i32, r1: i32): void {
  let off = 0;
  for (let i = 0; i < count && off < r1; i++) {
    const d = desc + (<usize>i << 6);
    const N = load<i32>(d, D_N);
    const a = max(r0, off) - off, b = min(r1, off + N) - off;
    off += N;
    if (a >= b) continue;
    const w = <usize>load<u32>(d, D_W), s = <usize>load<u32>(d, D_S), x = <usize>load<u32>(d, D_X), y = <usize>load<u32>(d, D_Y);
    const K = load<i32>(d, D_K), fmt = load<i32>(d, D_FMT);
    if (fmt == FMT_Q8) gemm_q8(w, s, x, <usize>load<u32>(d, D_XS), y, 1, N, K, a, b, <usize>load<u32>(d, D_XW));
    else if (fmt == FMT_BF16) gemv_bf16(w, x, y, K, a, b);
    else if (fmt == FMT_F32) gemv_f32(w, x, y, K, a, b);
    else if (fmt == FMT_FP8) gemv_fp8(w, s, x, y, K, a, b);
  }
}
