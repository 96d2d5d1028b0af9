import { QB, fma, hsum } from './common';
import { weightAt } from './gemm';

// ---- q8: int8 blocks of 32 with an fp32 scale, int8 activations, i32x4.dot_i16x8_s ------------
// Weights are stored in tiles of four rows, interleaved by block: for tile t (rows 4t..4t+3) and block
// b, the four rows' 32 codes sit side by side (128 bytes at t·4·Kp + b·128, row r at +32r) and so do
// their scales (16 bytes at (t·4·nb + b·4)·4). A GEMV then reads ONE contiguous stream per tile instead
// of four row streams plus four scale streams: measured 12 → 21 G weights/s from DRAM on one thread.
// Rows are allocated to a multiple of four; rows past N are never read.

/** Byte offset of row n's block 0 (then 128 bytes per block). */
@inline function rowAt(n: i32, Kp: i32): usize { return <usize>(n >> 2) * (<usize>Kp << 2) + (<usize>(n & 3) << 5); }
/** Byte offset of row n's block-0 scale (then 16 bytes per block). */
@inline function scaleAt(n: i32, nb: i32): usize { return (<usize>(n >> 2) * <usize>nb << 4) + (<usize>(n & 3) << 2); }

/** Quantises K floats at xr into int8 blocks of 32 (zero-padded to Kp): codes qStride, scales sStride bytes apart per block. */
@inline function quantRow(xr: usize, K: i32, Kp: i32, q: usize, qStride: usize, s: usize, sStride: usize): void {
  const nb = Kp / QB;
  const full = K / QB;
  // whole blocks four lanes at a time: the same f32 max, scale, reciprocal and rounding as the scalar loop
  for (let b = 0; b < full; b++) {
    const xb = xr + (<usize>b << 7);
    const v0 = v128.load(xb), v1 = v128.load(xb, 16), v2 = v128.load(xb, 32), v3 = v128.load(xb, 48);
    const v4 = v128.load(xb, 64), v5 = v128.load(xb, 80), v6 = v128.load(xb, 96), v7 = v128.load(xb, 112);
    let m = f32x4.max(f32x4.max(f32x4.max(f32x4.abs(v0), f32x4.abs(v1)), f32x4.max(f32x4.abs(v2), f32x4.abs(v3))),
      f32x4.max(f32x4.max(f32x4.abs(v4), f32x4.abs(v5)), f32x4.max(f32x4.abs(v6), f32x4.abs(v7))));
    const amax = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    const d: f32 = amax / 127;
    const inv: f32 = d > 0 ? 1 / d : 0;
    store<f32>(s + <usize>b * sStride, d);
    const iv = f32x4.splat(inv);
    const qb = q + <usize>b * qStride;
    v128.store(qb, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(qi(v0, iv), qi(v1, iv)), i16x8.narrow_i32x4_s(qi(v2, iv), qi(v3, iv))));
    v128.store(qb, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(qi(v4, iv), qi(v5, iv)), i16x8.narrow_i32x4_s(qi(v6, iv), qi(v7, iv))), 16);
  }
  for (let b = full; b < nb; b++) {
    const k0 = b * QB;
    const k1 = min(k0 + QB, K);
    let amax: f32 = 0;
    for (let k = k0; k < k1; k++) amax = max(amax, abs(load<f32>(xr + (<usize>k << 2))));
    const d: f32 = amax / 127;
    const inv: f32 = d > 0 ? 1 / d : 0;
    store<f32>(s + <usize>b * sStride, d);
    const qb = q + <usize>b * qStride;
    for (let k = k0; k < k0 + QB; k++) {
      const v: f32 = k < k1 ? nearest(load<f32>(xr + (<usize>k << 2)) * inv) : 0;
      store<i8>(qb + <usize>(k - k0), <i8>(<i32>v));
    }
  }
}

/** round(v·inv) as int32 lanes (|v·inv| ≤ 127, so the narrowing that follows never saturates). */
@inline function qi(v: v128, inv: v128): v128 { return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, inv))); }

/**
 * Quantises rows [m0,m1) of x[M,K] to int8 blocks of 32 (rows padded with zeros to Kp), rows contiguous;
 * with xw ≠ 0 also writes the codes widened to int16 there ([M,Kp]), which gemm_q8's two-row path reads.
 */
export function quant_q8(x: usize, K: i32, Kp: i32, q: usize, s: usize, m0: i32, m1: i32, xw: usize): void {
  const nb = Kp / QB;
  for (let m = m0; m < m1; m++) {
    const qr = q + <usize>m * <usize>Kp;
    quantRow(x + <usize>m * (<usize>K << 2), K, Kp, qr, QB, s + (<usize>(m * nb) << 2), 4);
    if (xw == 0) continue;
    const wr = xw + (<usize>m * <usize>Kp << 1);
    for (let k = 0; k < Kp; k += 16) {
      const v = v128.load(qr + <usize>k);
      v128.store(wr + (<usize>k << 1), i16x8.extend_low_i8x16_s(v));
      v128.store(wr + (<usize>k << 1), i16x8.extend_high_i8x16_s(v), 16);
    }
  }
}

/**
 * Repacks rows [n0,n1) of a chunk of stored rows (w, and sc for FP8, both starting at the chunk's first
 * row, a multiple of 128) into the tiled q8 layout at q/s (also chunk-relative), using `tmp` (K floats) per thread.
 */
export function repack_q8(fmt: i32, w: usize, sc: usize, K: i32, Kp: i32, q: usize, s: usize, n0: i32, n1: i32, tmp: usize): void {
  const nb = Kp / QB;
  for (let n = n0; n < n1; n++) {
    for (let k = 0; k < K; k++) store<f32>(tmp + (<usize>k << 2), weightAt(fmt, w, sc, K, n, k));
    quantRow(tmp, K, Kp, q + rowAt(n, Kp), 128, s + scaleAt(n, nb), 16);
  }
}

@inline function q8Block(wp: usize, xa0: v128, xa1: v128, xb0: v128, xb1: v128): v128 {
  const wa = v128.load(wp), wb = v128.load(wp, 16);
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wa), xa0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wa), xa1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wb), xb0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wb), xb1)));
}

/**
 * y[M,N] rows [n0,n1) from tiled q8 weights and q8 activation rows (xq [M,Kp], xs [M,Kp/32]): whole
 * tiles stream one pointer and are reused for every m; rows outside whole tiles go one at a time. xw, when
 * not 0, holds the same codes widened to int16 [M,Kp]: it enables the two-row GEMM pass and, for decode,
 * the four-stream walk of long rows.
 */
export function gemm_q8(wq: usize, ws: usize, xq: usize, xs: usize, y: usize, M: i32, N: i32, Kp: i32, n0: i32, n1: i32, xw: usize): void {
  const nb = Kp / QB;
  const sb = <usize>nb << 2;
  const tileBytes = <usize>Kp << 2;
  let n = n0;
  for (; n < n1 && (n & 3) != 0; n++) rowQ8(wq, ws, xq, xs, y, M, N, Kp, n);
  if (M == 1) {
    // decode: tiles i and i + h of the range's 2h (+1) side by side (two read streams, always in different
    // pages), an odd last tile as two halves
    const h = ((n1 - n) >> 2) >> 1;
    const far = n + (h << 2);
    for (let i = 0; i < h; i++) {
      const na = n + (i << 2), nf = far + (i << 2);
      const ta = wq + rowAt(na, Kp), sa = ws + scaleAt(na, nb), tc = wq + rowAt(nf, Kp), sc = ws + scaleAt(nf, nb);
      // tiles of 8 KiB or more: each also as two halves (4 KiB or more apart), four streams in four pages
      if (xw != 0 && Kp >= 2048) tileQ8Four(ta, sa, tc, sc, xw, xs, y + (<usize>na << 2), y + (<usize>nf << 2), nb);
      else tileQ8Two(ta, sa, tc, sc, xq, xs, y + (<usize>na << 2), y + (<usize>nf << 2), nb);
    }
    n = far + (h << 2);
    if (n + 4 <= n1) { tileQ8Halves(wq + rowAt(n, Kp), ws + scaleAt(n, nb), xq, xs, y + (<usize>n << 2), nb); n += 4; }
  }
  for (; n + 4 <= n1; n += 4) {
    const t0 = wq + rowAt(n, Kp), s0 = ws + scaleAt(n, nb);
    let m0 = 0;
    if (xw != 0) {
      for (; m0 + 2 <= M; m0 += 2) tileQ8Pair(t0, s0, xw + (<usize>m0 * <usize>Kp << 1), xs + <usize>m0 * sb, y + ((<usize>m0 * <usize>N + <usize>n) << 2), nb, Kp, N);
    }
    for (let m = m0; m < M; m++) {
      let xo = xq + <usize>m * <usize>Kp, xsp = xs + <usize>m * sb;
      let p = t0, sp = s0;
      const end = t0 + tileBytes;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (; p < end; p += 128, sp += 16, xo += 32, xsp += 4) {
        const xa = v128.load(xo), xb = v128.load(xo, 16);
        const xa0 = i16x8.extend_low_i8x16_s(xa), xa1 = i16x8.extend_high_i8x16_s(xa);
        const xb0 = i16x8.extend_low_i8x16_s(xb), xb1 = i16x8.extend_high_i8x16_s(xb);
        // the four rows' scales in one load, times the activation block's
        const d = f32x4.mul(v128.load(sp), f32x4.splat(load<f32>(xsp)));
        a0 = fma(f32x4.convert_i32x4_s(q8Block(p, xa0, xa1, xb0, xb1)), i32x4.shuffle(d, d, 0, 0, 0, 0), a0);
        a1 = fma(f32x4.convert_i32x4_s(q8Block(p + 32, xa0, xa1, xb0, xb1)), i32x4.shuffle(d, d, 1, 1, 1, 1), a1);
        a2 = fma(f32x4.convert_i32x4_s(q8Block(p + 64, xa0, xa1, xb0, xb1)), i32x4.shuffle(d, d, 2, 2, 2, 2), a2);
        a3 = fma(f32x4.convert_i32x4_s(q8Block(p + 96, xa0, xa1, xb0, xb1)), i32x4.shuffle(d, d, 3, 3, 3, 3), a3);
      }
      const yo = y + ((<usize>m * <usize>N + <usize>n) << 2);
      store<f32>(yo, hsum(a0)); store<f32>(yo, hsum(a1), 4); store<f32>(yo, hsum(a2), 8); store<f32>(yo, hsum(a3), 12);
    }
  }
  for (; n < n1; n++) rowQ8(wq, ws, xq, xs, y, M, N, Kp, n);
}

/**
 * Two tiles (eight rows, far apart in memory) against one activation row (decode), block by block: two
 * read streams, one per tile. Walking one tile as two halves also gives two streams, but for short rows
 * (K ≤ ~2K: a tile within one or two 4 KiB pages) both sit in the same page, where the L2 streamer follows
 * only one: K = 1024 GEMVs from DRAM ran at 6 GB/s on one thread against ~10 for long rows.
 */
function tileQ8Two(ta: usize, sa: usize, tc: usize, sc: usize, xq: usize, xs: usize, ya: usize, yc: usize, nb: i32): void {
  const end = ta + (<usize>nb << 7);
  const dq = tc - ta, ds = sc - sa;
  let p = ta, sp = sa, xo = xq, xsp = xs;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
  for (; p < end; p += 128, sp += 16, xo += 32, xsp += 4) {
    const xa = v128.load(xo), xb = v128.load(xo, 16);
    const xa0 = i16x8.extend_low_i8x16_s(xa), xa1 = i16x8.extend_high_i8x16_s(xa);
    const xb0 = i16x8.extend_low_i8x16_s(xb), xb1 = i16x8.extend_high_i8x16_s(xb);
    const xd = load<f32>(xsp);
    const q = p + dq, sq = sp + ds;
    a0 = q8RowFma(p, sp, xa0, xa1, xb0, xb1, xd, a0); c0 = q8RowFma(q, sq, xa0, xa1, xb0, xb1, xd, c0);
    a1 = q8RowFma(p + 32, sp + 4, xa0, xa1, xb0, xb1, xd, a1); c1 = q8RowFma(q + 32, sq + 4, xa0, xa1, xb0, xb1, xd, c1);
    a2 = q8RowFma(p + 64, sp + 8, xa0, xa1, xb0, xb1, xd, a2); c2 = q8RowFma(q + 64, sq + 8, xa0, xa1, xb0, xb1, xd, c2);
    a3 = q8RowFma(p + 96, sp + 12, xa0, xa1, xb0, xb1, xd, a3); c3 = q8RowFma(q + 96, sq + 12, xa0, xa1, xb0, xb1, xd, c3);
  }
  store<f32>(ya, hsum(a0)); store<f32>(ya, hsum(a1), 4); store<f32>(ya, hsum(a2), 8); store<f32>(ya, hsum(a3), 12);
  store<f32>(yc, hsum(c0)); store<f32>(yc, hsum(c1), 4); store<f32>(yc, hsum(c2), 8); store<f32>(yc, hsum(c3), 12);
}

/**
 * tileQ8Two with each tile also walked as two halves: four read streams (tiles of 8 KiB or more, so every
 * stream has its own page). The activations come widened to int16 (xw), loaded where used: four sets of
 * widened activations would not fit V8's 16 vector registers beside eight accumulators.
 */
function tileQ8Four(ta: usize, sa: usize, tc: usize, sc: usize, xw: usize, xs: usize, ya: usize, yc: usize, nb: i32): void {
  const hb = nb >> 1;
  const hp = <usize>hb << 7, hs = <usize>hb << 4, hx = <usize>hb << 6, hxs = <usize>hb << 2;
  const dq = tc - ta, ds = sc - sa;
  let end = ta + hp;
  let p = ta, sp = sa, xo = xw, xsp = xs;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
  for (let pass = 0; pass < 2; pass++) {
    // pass 0: the two halves of both tiles side by side; pass 1: an odd last block of both tiles. The second
    // half's copy of the block code is deliberate: one body over blocks 0, hb, 1, hb + 1, … ran 13 % slower
    // from DRAM (same results)
    for (; p < end; p += 128, sp += 16, xo += 64, xsp += 4) {
      let xd = f32x4.splat(load<f32>(xsp));
      let da = f32x4.mul(v128.load(sp), xd), dc = f32x4.mul(v128.load(sp + ds), xd);
      let q = p + dq;
      a0 = fma(f32x4.convert_i32x4_s(dot4w(p, xo)), i32x4.shuffle(da, da, 0, 0, 0, 0), a0);
      c0 = fma(f32x4.convert_i32x4_s(dot4w(q, xo)), i32x4.shuffle(dc, dc, 0, 0, 0, 0), c0);
      a1 = fma(f32x4.convert_i32x4_s(dot4w(p + 32, xo)), i32x4.shuffle(da, da, 1, 1, 1, 1), a1);
      c1 = fma(f32x4.convert_i32x4_s(dot4w(q + 32, xo)), i32x4.shuffle(dc, dc, 1, 1, 1, 1), c1);
      a2 = fma(f32x4.convert_i32x4_s(dot4w(p + 64, xo)), i32x4.shuffle(da, da, 2, 2, 2, 2), a2);
      c2 = fma(f32x4.convert_i32x4_s(dot4w(q + 64, xo)), i32x4.shuffle(dc, dc, 2, 2, 2, 2), c2);
      a3 = fma(f32x4.convert_i32x4_s(dot4w(p + 96, xo)), i32x4.shuffle(da, da, 3, 3, 3, 3), a3);
      c3 = fma(f32x4.convert_i32x4_s(dot4w(q + 96, xo)), i32x4.shuffle(dc, dc, 3, 3, 3, 3), c3);
      if (pass) continue;
      const p2 = p + hp, sp2 = sp + hs, xo2 = xo + hx;
      xd = f32x4.splat(load<f32>(xsp + hxs));
      da = f32x4.mul(v128.load(sp2), xd); dc = f32x4.mul(v128.load(sp2 + ds), xd);
      q = p2 + dq;
      a0 = fma(f32x4.convert_i32x4_s(dot4w(p2, xo2)), i32x4.shuffle(da, da, 0, 0, 0, 0), a0);
      c0 = fma(f32x4.convert_i32x4_s(dot4w(q, xo2)), i32x4.shuffle(dc, dc, 0, 0, 0, 0), c0);
      a1 = fma(f32x4.convert_i32x4_s(dot4w(p2 + 32, xo2)), i32x4.shuffle(da, da, 1, 1, 1, 1), a1);
      c1 = fma(f32x4.convert_i32x4_s(dot4w(q + 32, xo2)), i32x4.shuffle(dc, dc, 1, 1, 1, 1), c1);
      a2 = fma(f32x4.convert_i32x4_s(dot4w(p2 + 64, xo2)), i32x4.shuffle(da, da, 2, 2, 2, 2), a2);
      c2 = fma(f32x4.convert_i32x4_s(dot4w(q + 64, xo2)), i32x4.shuffle(dc, dc, 2, 2, 2, 2), c2);
      a3 = fma(f32x4.convert_i32x4_s(dot4w(p2 + 96, xo2)), i32x4.shuffle(da, da, 3, 3, 3, 3), a3);
      c3 = fma(f32x4.convert_i32x4_s(dot4w(q + 96, xo2)), i32x4.shuffle(dc, dc, 3, 3, 3, 3), c3);
    }
    if (!(nb & 1)) break;
    p = ta + (hp << 1); sp = sa + (hs << 1); xo = xw + (hx << 1); xsp = xs + (hxs << 1);
    end = p + 128;
  }
  store<f32>(ya, hsum(a0)); store<f32>(ya, hsum(a1), 4); store<f32>(ya, hsum(a2), 8); store<f32>(ya, hsum(a3), 12);
  store<f32>(yc, hsum(c0)); store<f32>(yc, hsum(c1), 4); store<f32>(yc, hsum(c2), 8); store<f32>(yc, hsum(c3), 12);
}

/** dot4 of one row's 32 codes at p, widened here, against 32 int16 activations at x. */
@inline function dot4w(p: usize, x: usize): v128 {
  const wa = v128.load(p), wb = v128.load(p, 16);
  return dot4(i16x8.extend_low_i8x16_s(wa), i16x8.extend_high_i8x16_s(wa), i16x8.extend_low_i8x16_s(wb), i16x8.extend_high_i8x16_s(wb), x);
}

/**
 * One tile against one activation row (decode), its blocks walked as two halves at once: two read streams
 * keep more loads in flight than one, which left the GEMV waiting on memory (8192² q8 GEMV on an Intel
 * Xeon host: 7.2 → 9.4 GB/s on one thread, 20.8 → 29.0 on two; unchanged in cache). Writes the four
 * rows' outputs at yo. The halves are unrolled by hand: a loop over them cost ~20 % in cache. With an odd
 * block count the second half is one block longer, and its last block goes alone.
 */
function tileQ8Halves(t0: usize, s0: usize, xq: usize, xs: usize, yo: usize, nb: i32): void {
  const hb = nb >> 1;
  const hp = <usize>hb << 7, hs = <usize>hb << 4, hx = <usize>hb << 5, hxs = <usize>hb << 2;
  const end1 = t0 + hp, end2 = t0 + (<usize>(nb - hb) << 7);
  let p = t0, sp = s0, xo = xq, xsp = xs;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (; p < end2; p += 128, sp += 16, xo += 32, xsp += 4) {
    if (p < end1) {
      const xa = v128.load(xo), xb = v128.load(xo, 16);
      const xa0 = i16x8.extend_low_i8x16_s(xa), xa1 = i16x8.extend_high_i8x16_s(xa);
      const xb0 = i16x8.extend_low_i8x16_s(xb), xb1 = i16x8.extend_high_i8x16_s(xb);
      const xd = load<f32>(xsp);
      a0 = q8RowFma(p, sp, xa0, xa1, xb0, xb1, xd, a0); a1 = q8RowFma(p + 32, sp + 4, xa0, xa1, xb0, xb1, xd, a1);
      a2 = q8RowFma(p + 64, sp + 8, xa0, xa1, xb0, xb1, xd, a2); a3 = q8RowFma(p + 96, sp + 12, xa0, xa1, xb0, xb1, xd, a3);
    }
    const q = p + hp, sq = sp + hs;
    const xa = v128.load(xo + hx), xb = v128.load(xo + hx, 16);
    const xa0 = i16x8.extend_low_i8x16_s(xa), xa1 = i16x8.extend_high_i8x16_s(xa);
    const xb0 = i16x8.extend_low_i8x16_s(xb), xb1 = i16x8.extend_high_i8x16_s(xb);
    const xd = load<f32>(xsp + hxs);
    a0 = q8RowFma(q, sq, xa0, xa1, xb0, xb1, xd, a0); a1 = q8RowFma(q + 32, sq + 4, xa0, xa1, xb0, xb1, xd, a1);
    a2 = q8RowFma(q + 64, sq + 8, xa0, xa1, xb0, xb1, xd, a2); a3 = q8RowFma(q + 96, sq + 12, xa0, xa1, xb0, xb1, xd, a3);
  }
  store<f32>(yo, hsum(a0)); store<f32>(yo, hsum(a1), 4); store<f32>(yo, hsum(a2), 8); store<f32>(yo, hsum(a3), 12);
}

/**
 * One tile against two activation rows (prefill), from int16 activations (xw: two rows Kp apart): each
 * row's weight block is widened once and serves both rows, so a block costs ~20 % fewer instructions than
 * two one-row passes. Same integer sums and the same fp32 operations per output as the one-row loop.
 */
function tileQ8Pair(t0: usize, s0: usize, xw: usize, xs: usize, yo: usize, nb: i32, Kp: i32, N: i32): void {
  const x1off = <usize>Kp << 1, s1off = <usize>nb << 2;
  const end = t0 + (<usize>nb << 7);
  let p = t0, sp = s0, xo = xw, xsp = xs;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (; p < end; p += 128, sp += 16, xo += 64, xsp += 4) {
    const wsv = v128.load(sp);
    const d0 = f32x4.mul(wsv, f32x4.splat(load<f32>(xsp))), d1 = f32x4.mul(wsv, f32x4.splat(load<f32>(xsp + s1off)));
    const x1 = xo + x1off;
    let wa = v128.load(p), wb = v128.load(p, 16);
    let w0 = i16x8.extend_low_i8x16_s(wa), w1 = i16x8.extend_high_i8x16_s(wa), w2 = i16x8.extend_low_i8x16_s(wb), w3 = i16x8.extend_high_i8x16_s(wb);
    a0 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, xo)), i32x4.shuffle(d0, d0, 0, 0, 0, 0), a0);
    b0 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, x1)), i32x4.shuffle(d1, d1, 0, 0, 0, 0), b0);
    wa = v128.load(p, 32); wb = v128.load(p, 48);
    w0 = i16x8.extend_low_i8x16_s(wa); w1 = i16x8.extend_high_i8x16_s(wa); w2 = i16x8.extend_low_i8x16_s(wb); w3 = i16x8.extend_high_i8x16_s(wb);
    a1 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, xo)), i32x4.shuffle(d0, d0, 1, 1, 1, 1), a1);
    b1 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, x1)), i32x4.shuffle(d1, d1, 1, 1, 1, 1), b1);
    wa = v128.load(p, 64); wb = v128.load(p, 80);
    w0 = i16x8.extend_low_i8x16_s(wa); w1 = i16x8.extend_high_i8x16_s(wa); w2 = i16x8.extend_low_i8x16_s(wb); w3 = i16x8.extend_high_i8x16_s(wb);
    a2 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, xo)), i32x4.shuffle(d0, d0, 2, 2, 2, 2), a2);
    b2 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, x1)), i32x4.shuffle(d1, d1, 2, 2, 2, 2), b2);
    wa = v128.load(p, 96); wb = v128.load(p, 112);
    w0 = i16x8.extend_low_i8x16_s(wa); w1 = i16x8.extend_high_i8x16_s(wa); w2 = i16x8.extend_low_i8x16_s(wb); w3 = i16x8.extend_high_i8x16_s(wb);
    a3 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, xo)), i32x4.shuffle(d0, d0, 3, 3, 3, 3), a3);
    b3 = fma(f32x4.convert_i32x4_s(dot4(w0, w1, w2, w3, x1)), i32x4.shuffle(d1, d1, 3, 3, 3, 3), b3);
  }
  store<f32>(yo, hsum(a0)); store<f32>(yo, hsum(a1), 4); store<f32>(yo, hsum(a2), 8); store<f32>(yo, hsum(a3), 12);
  const y1 = yo + (<usize>N << 2);
  store<f32>(y1, hsum(b0)); store<f32>(y1, hsum(b1), 4); store<f32>(y1, hsum(b2), 8); store<f32>(y1, hsum(b3), 12);
}

/** The int32 sums of one row's widened 32-block (w0..w3) against 32 int16 activations at x. */
@inline function dot4(w0: v128, w1: v128, w2: v128, w3: v128, x: usize): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(w0, v128.load(x)), i32x4.dot_i16x8_s(w1, v128.load(x, 16))),
    i32x4.add(i32x4.dot_i16x8_s(w2, v128.load(x, 32)), i32x4.dot_i16x8_s(w3, v128.load(x, 48))));
}

/** acc + (one row's 32-block at p · the widened activation block) × (its scale at sp × the activation's xd). */
@inline function q8RowFma(p: usize, sp: usize, xa0: v128, xa1: v128, xb0: v128, xb1: v128, xd: f32, acc: v128): v128 {
  return fma(f32x4.convert_i32x4_s(q8Block(p, xa0, xa1, xb0, xb1)), f32x4.splat(load<f32>(sp) * xd), acc);
}

/** One weight row n of gemm_q8 for every m (rows before/after the whole tiles of a range). */
function rowQ8(wq: usize, ws: usize, xq: usize, xs: usize, y: usize, M: i32, N: i32, Kp: i32, n: i32): void {
  const nb = Kp / QB;
  const sb = <usize>nb << 2;
  const r = wq + rowAt(n, Kp), sr = ws + scaleAt(n, nb);
  for (let m = 0; m < M; m++) {
    const xr = xq + <usize>m * <usize>Kp, xsr = xs + <usize>m * sb;
    let a = f32x4.splat(0);
    for (let b = 0; b < nb; b++) {
      const xa = v128.load(xr + (<usize>b << 5)), xb = v128.load(xr + (<usize>b << 5), 16);
      const isum = q8Block(r + (<usize>b << 7), i16x8.extend_low_i8x16_s(xa), i16x8.extend_high_i8x16_s(xa), i16x8.extend_low_i8x16_s(xb), i16x8.extend_high_i8x16_s(xb));
      a = fma(f32x4.convert_i32x4_s(isum), f32x4.splat(load<f32>(xsr + (<usize>b << 2)) * load<f32>(sr + (<usize>b << 4))), a);
    }
    store<f32>(y + ((<usize>m * <usize>N + <usize>n) << 2), hsum(a));
  }
}

/** Writes rows [n0,n1) of a tiled q8 weight as row-major fp32 (dst [N,K]): code × block scale. */
export function unpack_q8(wq: usize, ws: usize, K: i32, Kp: i32, dst: usize, n0: i32, n1: i32): void {
  const nb = Kp / QB;
  for (let n = n0; n < n1; n++) {
    const r = wq + rowAt(n, Kp), sr = ws + scaleAt(n, nb), d = dst + ((<usize>n * <usize>K) << 2);
    const full = K >> 5;
    for (let b = 0; b < full; b++) {
      const s = f32x4.splat(load<f32>(sr + (<usize>b << 4)));
      const o = d + (<usize>b << 7);
      for (let h = 0; h < 2; h++) {
        const v = v128.load(r + (<usize>b << 7) + (<usize>h << 4));
        const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
        const oh = o + (<usize>h << 6);
        v128.store(oh, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), s));
        v128.store(oh, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), s), 16);
        v128.store(oh, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), s), 32);
        v128.store(oh, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), s), 48);
      }
    }
    for (let k = full << 5; k < K; k++) {
      const b = k >> 5;
      store<f32>(d + (<usize>k << 2), <f32>load<i8>(r + (<usize>b << 7) + <usize>(k & 31)) * load<f32>(sr + (<usize>b << 4)));
    }
  }
}

/**
 * Rows [m0,m1) of quantised activations back to fp32 (dst [M,K] = code × block scale): a native fp32 GEMM
 * then multiplies exactly the values the int8 kernels multiply (up to fp32 rounding), so q8 means one
 * thing whichever kernel runs.
 */
export function dequant_q8(xq: usize, xs: usize, K: i32, Kp: i32, dst: usize, m0: i32, m1: i32): void {
  const nb = Kp / QB;
  for (let m = m0; m < m1; m++) {
    const q = xq + <usize>m * <usize>Kp, s = xs + (<usize>(m * nb) << 2), d = dst + ((<usize>m * <usize>K) << 2);
    for (let k = 0; k < K; k++) store<f32>(d + (<usize>k << 2), <f32>load<i8>(q + <usize>k) * load<f32>(s + (<usize>(k >> 5) << 2)));
  }
}
