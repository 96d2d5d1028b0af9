import { QB, fma, hsum } from './common';
import { weightAt } from './gemm';

// ---- q8: int8 blocks of 32 with an fp32 scale, int8 activations, i32x4.dot_i16x8_s ------------

/** Quantises rows [m0,m1) of x[M,K] to int8 blocks of 32 (rows padded with zeros to Kp). */
export function quant_q8(x: usize, K: i32, Kp: i32, q: usize, s: usize, m0: i32, m1: i32): void {
  const nb = Kp / QB;
  for (let m = m0; m < m1; m++) {
    const xr = x + <usize>m * (<usize>K << 2);
    const qr = q + <usize>m * <usize>Kp;
    for (let b = 0; b < nb; b++) {
      const k0 = b * QB;
      const k1 = min(k0 + QB, K);
      let amax: f32 = 0;
      for (let k = k0; k < k1; k++) amax = max(amax, abs(load<f32>(xr + (<usize>k << 2))));
      const d: f32 = amax / 127;
      const inv: f32 = d > 0 ? 1 / d : 0;
      store<f32>(s + (<usize>(m * nb + b) << 2), d);
      for (let k = k0; k < k0 + QB; k++) {
        const v: f32 = k < k1 ? nearest(load<f32>(xr + (<usize>k << 2)) * inv) : 0;
        store<i8>(qr + <usize>k, <i8>(<i32>v));
      }
    }
  }
}

/**
 * Repacks rows [n0,n1) of a chunk of stored rows (w, and sc for FP8, both starting at the chunk's first
 * row, a multiple of 128) into q8 rows at q/s (also chunk-relative), using `tmp` (K floats) per thread.
 */
export function repack_q8(fmt: i32, w: usize, sc: usize, K: i32, Kp: i32, q: usize, s: usize, n0: i32, n1: i32, tmp: usize): void {
  for (let n = n0; n < n1; n++) {
    for (let k = 0; k < K; k++) store<f32>(tmp + (<usize>k << 2), weightAt(fmt, w, sc, K, n, k));
    quant_q8(tmp, K, Kp, q + <usize>n * <usize>Kp, s + (<usize>n * <usize>(Kp / QB) << 2), 0, 1);
  }
}

@inline function q8Block(wp: usize, xa0: v128, xa1: v128, xb0: v128, xb1: v128): v128 {
  const wa = v128.load(wp), wb = v128.load(wp, 16);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wa), xa0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wa), xa1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wb), xb0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wb), xb1)));
}

/** y[M,N] rows [n0,n1) from q8 weights and q8 activations: a 4-row weight tile is reused for every m. */
export function gemm_q8(wq: usize, ws: usize, xq: usize, xs: usize, y: usize, M: i32, N: i32, Kp: i32, n0: i32, n1: i32): void {
  const nb = Kp / QB;
  const sb = <usize>nb << 2;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const r0 = wq + <usize>n * <usize>Kp, r1 = r0 + <usize>Kp, r2 = r1 + <usize>Kp, r3 = r2 + <usize>Kp;
    const s0 = ws + <usize>n * sb, s1 = s0 + sb, s2 = s1 + sb, s3 = s2 + sb;
    for (let m = 0; m < M; m++) {
      const xr = xq + <usize>m * <usize>Kp, xsr = xs + <usize>m * sb;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let b = 0; b < nb; b++) {
        const o = <usize>b << 5, so = <usize>b << 2;
        const xa = v128.load(xr + o), xb = v128.load(xr + o, 16);
        const xa0 = i16x8.extend_low_i8x16_s(xa), xa1 = i16x8.extend_high_i8x16_s(xa);
        const xb0 = i16x8.extend_low_i8x16_s(xb), xb1 = i16x8.extend_high_i8x16_s(xb);
        const dx = load<f32>(xsr + so);
        a0 = fma(f32x4.convert_i32x4_s(q8Block(r0 + o, xa0, xa1, xb0, xb1)), f32x4.splat(dx * load<f32>(s0 + so)), a0);
        a1 = fma(f32x4.convert_i32x4_s(q8Block(r1 + o, xa0, xa1, xb0, xb1)), f32x4.splat(dx * load<f32>(s1 + so)), a1);
        a2 = fma(f32x4.convert_i32x4_s(q8Block(r2 + o, xa0, xa1, xb0, xb1)), f32x4.splat(dx * load<f32>(s2 + so)), a2);
        a3 = fma(f32x4.convert_i32x4_s(q8Block(r3 + o, xa0, xa1, xb0, xb1)), f32x4.splat(dx * load<f32>(s3 + so)), a3);
      }
      const yo = y + ((<usize>m * <usize>N + <usize>n) << 2);
      store<f32>(yo, hsum(a0)); store<f32>(yo, hsum(a1), 4); store<f32>(yo, hsum(a2), 8); store<f32>(yo, hsum(a3), 12);
    }
  }
  for (; n < n1; n++) {
    const r = wq + <usize>n * <usize>Kp, sr = ws + <usize>n * sb;
    for (let m = 0; m < M; m++) {
      const xr = xq + <usize>m * <usize>Kp, xsr = xs + <usize>m * sb;
      let a = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const o = <usize>b << 5, so = <usize>b << 2;
        const xa = v128.load(xr + o), xb = v128.load(xr + o, 16);
        const isum = q8Block(r + o, i16x8.extend_low_i8x16_s(xa), i16x8.extend_high_i8x16_s(xa), i16x8.extend_low_i8x16_s(xb), i16x8.extend_high_i8x16_s(xb));
        a = fma(f32x4.convert_i32x4_s(isum), f32x4.splat(load<f32>(xsr + so) * load<f32>(sr + so)), a);
      }
      store<f32>(y + ((<usize>m * <usize>N + <usize>n) << 2), hsum(a));
    }
  }
}

