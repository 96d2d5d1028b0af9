import { FMT_BF16, FMT_F32, FMT_F32_ROWS, decode_fp8, fma, scalarE4m3 } from './common';
import { bf16Addr, bf16At, bf16RowAt, f32Addr, f32RowAt, fp8Addr } from './gemv';

// ---- GEMM (M > 1): pack 8 weight rows × KC columns as [k][8] fp32, 4×8 register block ------------

const KC: i32 = 256;

/** Decoded weight element (n, k), block scale applied exactly as the portable backend does. */
/** Element (n, k) of a weight in its STORED row-major layout (repack_q8's input, not a tiled BF16 weight). */
@inline export function weightAt(fmt: i32, w: usize, sc: usize, K: i32, n: i32, k: i32): f32 {
  const i = <usize>n * <usize>K + <usize>k;
  if (fmt == FMT_F32) return load<f32>(w + (i << 2));
  if (fmt == FMT_BF16) return bf16At(w + (i << 1));
  const kb = (K + 127) >> 7;
  return scalarE4m3(load<u8>(w + i)) * load<f32>(sc + (<usize>((n >> 7) * kb + (k >> 7)) << 2));
}

// i32-lane shuffles as byte shuffles: lanes a0 b0 a1 b1 / a2 b2 a3 b3 / a0 a1 b0 b1 / a2 a3 b2 b3
@inline function zipLo(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); }
@inline function zipHi(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); }
@inline function lo64(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23); }
@inline function hi64(a: v128, b: v128): v128 { return i8x16.shuffle(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); }

/** Stores the 4×4 transpose of rows a..d (4 k-values each) as 4 k-slots of 4 rows, at stride 32 bytes. */
@inline function store4x4T(a: v128, b: v128, c: v128, e: v128, d: usize): void {
  const t0 = zipLo(a, b), t1 = zipHi(a, b), t2 = zipLo(c, e), t3 = zipHi(c, e);
  v128.store(d, lo64(t0, t2));
  v128.store(d + 32, hi64(t0, t2));
  v128.store(d + 64, lo64(t1, t3));
  v128.store(d + 96, hi64(t1, t3));
}

/** bf16 → f32 of 8 lanes: (low 4, high 4). */
@inline function bf16Lo(v: v128): v128 { return i32x4.shl(i32x4.extend_low_i16x8_u(v), 16); }
@inline function bf16Hi(v: v128): v128 { return i32x4.shl(i32x4.extend_high_i16x8_u(v), 16); }

/** A full 8-row bf16 panel in SIMD: 8 k at a time, widened and transposed into the k-major layout. */
function packPanelBf16(w: usize, K: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  // n is a multiple of 8 and k0 of 8: rows n..n+3 and n+4..n+7 are two whole tiles (gemv.ts)
  const ta = w + bf16RowAt(n, K) + (<usize>(k0 >> 3) << 6), tb = w + bf16RowAt(n + 4, K) + (<usize>(k0 >> 3) << 6);
  let k = 0;
  for (; k + 8 <= kc; k += 8) {
    const o = <usize>k << 3;
    const v0 = v128.load(ta + o), v1 = v128.load(ta + o, 16), v2 = v128.load(ta + o, 32), v3 = v128.load(ta + o, 48);
    const v4 = v128.load(tb + o), v5 = v128.load(tb + o, 16), v6 = v128.load(tb + o, 32), v7 = v128.load(tb + o, 48);
    const d = dst + (<usize>k << 5);
    store4x4T(bf16Lo(v0), bf16Lo(v1), bf16Lo(v2), bf16Lo(v3), d);
    store4x4T(bf16Lo(v4), bf16Lo(v5), bf16Lo(v6), bf16Lo(v7), d + 16);
    store4x4T(bf16Hi(v0), bf16Hi(v1), bf16Hi(v2), bf16Hi(v3), d + 128);
    store4x4T(bf16Hi(v4), bf16Hi(v5), bf16Hi(v6), bf16Hi(v7), d + 144);
  }
  for (; k < kc; k++) {
    for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>r << 2) + (<usize>k << 5), bf16At(bf16Addr(w, K, n + r, k0 + k)));
  }
}

/** A full 8-row f32 panel in SIMD (two whole tiles, gemv.ts): 4 k at a time, transposed into the k-major layout. */
function packPanelF32(w: usize, K: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  const ta = w + f32RowAt(n, K) + (<usize>(k0 >> 2) << 6), tb = w + f32RowAt(n + 4, K) + (<usize>(k0 >> 2) << 6);
  let k = 0;
  for (; k + 4 <= kc; k += 4) {
    const o = <usize>k << 4;
    const d = dst + (<usize>k << 5);
    store4x4T(v128.load(ta + o), v128.load(ta + o, 16), v128.load(ta + o, 32), v128.load(ta + o, 48), d);
    store4x4T(v128.load(tb + o), v128.load(tb + o, 16), v128.load(tb + o, 32), v128.load(tb + o, 48), d + 16);
  }
  for (; k < kc; k++) {
    for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>r << 2) + (<usize>k << 5), load<f32>(f32Addr(w, K, n + r, k0 + k)));
  }
}

/** 8 row-major f32 rows of kc values (row stride rs bytes; the FP8 panel's decoded rows) into the k-major panel. */
function transpose8(r0: usize, rs: usize, kc: i32, dst: usize): void {
  let k = 0;
  for (; k + 4 <= kc; k += 4) {
    const o = <usize>k << 2;
    const d = dst + (<usize>k << 5);
    store4x4T(v128.load(r0 + o), v128.load(r0 + rs + o), v128.load(r0 + 2 * rs + o), v128.load(r0 + 3 * rs + o), d);
    store4x4T(v128.load(r0 + 4 * rs + o), v128.load(r0 + 5 * rs + o), v128.load(r0 + 6 * rs + o), v128.load(r0 + 7 * rs + o), d + 16);
  }
  for (; k < kc; k++) {
    for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>r << 2) + (<usize>k << 5), load<f32>(r0 + <usize>r * rs + (<usize>k << 2)));
  }
}

/**
 * A full 8-row FP8 panel: each row's 16-code blocks decoded with the SIMD e4m3 decoder (scales per 128
 * columns) into the scratch half of the pack buffer, then transposed. `dst` has KC·8 floats of panel + KC·8
 * of scratch. k0 is a multiple of 128; a last partial block is decoded code by code.
 */
function packPanelFp8(w: usize, sc: usize, K: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  const kb = (K + 127) >> 7;
  const tmp = dst + (<usize>KC << 5);
  const kc16 = kc & ~15;
  for (let r = 0; r < 8; r++) {
    const nn = n + r;
    const srow = sc + (<usize>((nn >> 7) * kb) << 2);
    const out = tmp + (<usize>(r * kc) << 2);
    for (let k = 0; k < kc16; k += 16) {
      const kg = k0 + k;
      decode_fp8(fp8Addr(w, K, nn, kg), out + (<usize>k << 2), 16, srow + (<usize>(kg >> 7) << 2));
    }
    for (let k = kc16; k < kc; k++) {
      const kg = k0 + k;
      store<f32>(out + (<usize>k << 2), scalarE4m3(load<u8>(fp8Addr(w, K, nn, kg))) * load<f32>(srow + (<usize>(kg >> 7) << 2)));
    }
  }
  transpose8(tmp, <usize>kc << 2, kc, dst);
}

/** 8 row-major f32 rows (FMT_F32_ROWS), zero rows past N. */
function packPanelRows(w: usize, K: i32, N: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  const rs = <usize>K << 2;
  const r0 = w + ((<usize>n * <usize>K + <usize>k0) << 2);
  if (n + 8 <= N) { transpose8(r0, rs, kc, dst); return; }
  for (let r = 0; r < 8; r++) {
    const d = dst + (<usize>r << 2);
    for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), n + r < N ? load<f32>(r0 + <usize>r * rs + (<usize>k << 2)) : 0);
  }
}

function packPanel(fmt: i32, w: usize, sc: usize, K: i32, N: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  if (fmt == FMT_F32_ROWS) { packPanelRows(w, K, N, n, k0, kc, dst); return; }
  if (fmt == FMT_BF16 && n + 8 <= N) { packPanelBf16(w, K, n, k0, kc, dst); return; }
  if (fmt == FMT_F32 && n + 8 <= N) { packPanelF32(w, K, n, k0, kc, dst); return; }
  if (fmt != FMT_BF16 && fmt != FMT_F32 && n + 8 <= N) { packPanelFp8(w, sc, K, n, k0, kc, dst); return; }
  const kb = (K + 127) >> 7;
  for (let r = 0; r < 8; r++) {
    const nn = n + r;
    const d = dst + (<usize>r << 2);
    if (nn >= N) {
      for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), 0);
      continue;
    }
    // one loop per format (no per-element dispatch); FP8 scales hoisted per 128 columns
    if (fmt == FMT_F32) {
      for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), load<f32>(f32Addr(w, K, nn, k0 + k)));
    } else if (fmt == FMT_BF16) {
      for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), bf16At(bf16Addr(w, K, nn, k0 + k)));
    } else {
      const srow = sc + (<usize>((nn >> 7) * kb) << 2);
      for (let k = 0; k < kc;) {
        const kg = k0 + k;
        const end = min(kc, k + 128 - (kg & 127));
        const s = load<f32>(srow + (<usize>(kg >> 7) << 2));
        for (; k < end; k++) store<f32>(d + (<usize>k << 5), scalarE4m3(load<u8>(fp8Addr(w, K, nn, k0 + k))) * s);
      }
    }
  }
}

@inline function loadC(c: usize, nv: i32, first: bool, hi: bool): v128 {
  if (first) return f32x4.splat(0);
  if (nv == 8) return hi ? v128.load(c, 16) : v128.load(c);
  let v = f32x4.splat(0);
  const base = hi ? 4 : 0;
  if (base + 0 < nv) v = f32x4.replace_lane(v, 0, load<f32>(c + (<usize>(base + 0) << 2)));
  if (base + 1 < nv) v = f32x4.replace_lane(v, 1, load<f32>(c + (<usize>(base + 1) << 2)));
  if (base + 2 < nv) v = f32x4.replace_lane(v, 2, load<f32>(c + (<usize>(base + 2) << 2)));
  if (base + 3 < nv) v = f32x4.replace_lane(v, 3, load<f32>(c + (<usize>(base + 3) << 2)));
  return v;
}

@inline function storeC(c: usize, nv: i32, lo: v128, hi: v128): void {
  if (nv == 8) { v128.store(c, lo); v128.store(c, hi, 16); return; }
  if (nv > 0) store<f32>(c, f32x4.extract_lane(lo, 0));
  if (nv > 1) store<f32>(c, f32x4.extract_lane(lo, 1), 4);
  if (nv > 2) store<f32>(c, f32x4.extract_lane(lo, 2), 8);
  if (nv > 3) store<f32>(c, f32x4.extract_lane(lo, 3), 12);
  if (nv > 4) store<f32>(c, f32x4.extract_lane(hi, 0), 16);
  if (nv > 5) store<f32>(c, f32x4.extract_lane(hi, 1), 20);
  if (nv > 6) store<f32>(c, f32x4.extract_lane(hi, 2), 24);
}

/** C[4 rows, nv ≤ 8 cols] (+)= X[4 rows, kc] · panel; products added in k order (as the reference loop). */
function micro4x8(x: usize, ldx: usize, p: usize, kc: i32, c: usize, ldc: usize, nv: i32, first: bool): void {
  const x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  let c00 = loadC(c, nv, first, false), c01 = loadC(c, nv, first, true);
  let c10 = loadC(c1, nv, first, false), c11 = loadC(c1, nv, first, true);
  let c20 = loadC(c2, nv, first, false), c21 = loadC(c2, nv, first, true);
  let c30 = loadC(c3, nv, first, false), c31 = loadC(c3, nv, first, true);
  for (let k = 0; k < kc; k++) {
    const pk = p + (<usize>k << 5);
    const b0 = v128.load(pk), b1 = v128.load(pk, 16);
    const o = <usize>k << 2;
    let a = v128.load32_splat(x + o);
    c00 = fma(a, b0, c00); c01 = fma(a, b1, c01);
    a = v128.load32_splat(x1 + o);
    c10 = fma(a, b0, c10); c11 = fma(a, b1, c11);
    a = v128.load32_splat(x2 + o);
    c20 = fma(a, b0, c20); c21 = fma(a, b1, c21);
    a = v128.load32_splat(x3 + o);
    c30 = fma(a, b0, c30); c31 = fma(a, b1, c31);
  }
  storeC(c, nv, c00, c01); storeC(c1, nv, c10, c11); storeC(c2, nv, c20, c21); storeC(c3, nv, c30, c31);
}

function micro1x8(x: usize, p: usize, kc: i32, c: usize, nv: i32, first: bool): void {
  let c0 = loadC(c, nv, first, false), c1 = loadC(c, nv, first, true);
  for (let k = 0; k < kc; k++) {
    const pk = p + (<usize>k << 5);
    const a = v128.load32_splat(x + (<usize>k << 2));
    c0 = fma(a, v128.load(pk), c0);
    c1 = fma(a, v128.load(pk, 16), c1);
  }
  storeC(c, nv, c0, c1);
}

/** y[M,N] columns [n0,n1) (n0 a multiple of 8) = x[M,K] · Wᵀ; `pack` is this thread's 2·KC×8 floats. */
export function gemm(fmt: i32, w: usize, sc: usize, x: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, pack: usize): void {
  const ldx = <usize>K << 2, ldc = <usize>N << 2;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const first = k0 == 0;
    for (let n = n0; n < n1; n += 8) {
      const nv = min(8, n1 - n);
      packPanel(fmt, w, sc, K, N, n, k0, kc, pack);
      const xk = x + (<usize>k0 << 2);
      const cn = y + (<usize>n << 2);
      let m = 0;
      for (; m + 4 <= M; m += 4) micro4x8(xk + <usize>m * ldx, ldx, pack, kc, cn + <usize>m * ldc, ldc, nv, first);
      for (; m < M; m++) micro1x8(xk + <usize>m * ldx, pack, kc, cn + <usize>m * ldc, nv, first);
    }
  }
}

