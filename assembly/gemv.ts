import { FMT_BF16, FMT_F32, anyLowExp, anyLowExpIn, bf16F32Hi, bf16F32Lo, decode_fp8, fma, fp8Bf16Hi, fp8Bf16Lo, fp8Exact, hsum, lane0, lane1, lane2, lane3, scalarE4m3 } from './common';

// ---- GEMV (M = 1): one tile of four rows at a time, bandwidth bound -------------------------------

// Weights of every format live in tiles of four rows interleaved by 16-byte blocks (4 f32, 8 BF16 or
// 16 FP8 values; 64 bytes per tile-block, row r's 16 bytes at +16r), like q8 (q8.ts): a GEMV then reads
// one contiguous stream per tile instead of four row streams — measured from DRAM on one thread: BF16
// 8.7 → 11.9 G weights/s, q8 12 → 22. Rows are allocated to a multiple of four (rows past N never read),
// the last block of a row is zero-padded. The backend copies weights into this layout at load.

/** Byte offset of row n's first block in a tiled f32 matrix of K columns. */
@inline export function f32RowAt(n: i32, K: i32): usize { return <usize>(n >> 2) * (<usize>((K + 3) >> 2) << 6) + (<usize>(n & 3) << 4); }
/** Address of element (n, k) of a tiled f32 matrix. */
@inline export function f32Addr(w: usize, K: i32, n: i32, k: i32): usize {
  return w + f32RowAt(n, K) + (<usize>(k >> 2) << 6) + (<usize>(k & 3) << 2);
}

export function gemv_f32(w: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const K4 = K & ~3;
  let n = n0;
  for (; n < n1 && (n & 3) != 0; n++) f32Row(w, x, y, K, n);
  for (; n + 4 <= n1; n += 4) {
    let p = w + f32RowAt(n, K);
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let k = 0; k < K4; k += 4, p += 64) {
      const xv = v128.load(x + (<usize>k << 2));
      // multiply + add, not fma: see bf16Dot
      a0 = f32x4.add(a0, f32x4.mul(v128.load(p), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(p, 16), xv));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(p, 32), xv));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(p, 48), xv));
    }
    let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (let k = K4; k < K; k++) {
      const xv = load<f32>(x + (<usize>k << 2)), o = p + (<usize>(k & 3) << 2);
      s0 += xv * load<f32>(o); s1 += xv * load<f32>(o, 16);
      s2 += xv * load<f32>(o, 32); s3 += xv * load<f32>(o, 48);
    }
    const yo = y + (<usize>n << 2);
    store<f32>(yo, s0); store<f32>(yo, s1, 4); store<f32>(yo, s2, 8); store<f32>(yo, s3, 12);
  }
  for (; n < n1; n++) f32Row(w, x, y, K, n);
}

/** One row of gemv_f32 (rows outside whole tiles of a range). */
function f32Row(w: usize, x: usize, y: usize, K: i32, n: i32): void {
  const K4 = K & ~3;
  let p = w + f32RowAt(n, K);
  let a = f32x4.splat(0);
  for (let k = 0; k < K4; k += 4, p += 64) a = fma(v128.load(p), v128.load(x + (<usize>k << 2)), a);
  let s = hsum(a);
  for (let k = K4; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * load<f32>(p + (<usize>(k & 3) << 2));
  store<f32>(y + (<usize>n << 2), s);
}

// bf16 → f32 is a 16-bit shift: of 8 stored values, `shl 16` yields the even ones and `and 0xffff0000`
// the odd ones, so x is split into even/odd lanes by one shuffle shared by the four rows.
// Plain multiply and add on purpose: a fused multiply-add's 4-cycle latency on this accumulator chain
// made the relaxed build 16% slower here (measured), and more accumulators spill registers in V8. The two
// products are summed before the accumulator, so its chain is one add per block (in cache 22 → 24 GB/s).
@inline function bf16Dot(r: usize, xe: v128, xo: v128, a: v128): v128 {
  const v = v128.load(r);
  return f32x4.add(a, f32x4.add(f32x4.mul(i32x4.shl(v, 16), xe), f32x4.mul(v128.and(v, i32x4.splat(0xffff0000)), xo)));
}

@inline export function bf16At(p: usize): f32 { return reinterpret<f32>(<u32>load<u16>(p) << 16); }


/** Byte offset of row n's first block in a tiled BF16 matrix of K columns. */
@inline export function bf16RowAt(n: i32, K: i32): usize { return <usize>(n >> 2) * (<usize>((K + 7) >> 3) << 6) + (<usize>(n & 3) << 4); }
/** Address of element (n, k) of a tiled BF16 matrix. */
@inline export function bf16Addr(w: usize, K: i32, n: i32, k: i32): usize {
  return w + bf16RowAt(n, K) + (<usize>(k >> 3) << 6) + (<usize>(k & 7) << 1);
}

export function gemv_bf16(w: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const K8 = K & ~7;
  let n = n0;
  for (; n < n1 && (n & 3) != 0; n++) bf16Row(w, x, y, K, n);
  // Several read streams in flight, each in its own 4 KiB page (the L2 streamer follows one stream per page):
  // tiles i and i + h of the range's 2h (+1) side by side, and for tiles of 8 KiB or more each tile as two
  // halves as well — four streams. From DRAM on the Intel host, one thread: K = 512 6.3 → 9.3 GB/s (two tiles),
  // K = 2048 8.5 → 11 GB/s (four streams; two threads 17 → 22). An odd last tile goes as two halves below.
  const h = ((n1 - n) >> 2) >> 1;
  const far = n + (h << 2);
  for (let i = 0; i < h; i++) bf16TileTwo(w, x, y, K, n + (i << 2), far + (i << 2));
  n = far + (h << 2);
  // one tile's 8-column blocks walked as two halves at once (two streams); an odd last block goes alone
  const nblk = K8 >> 3, hb = nblk >> 1;
  const hp = <usize>hb << 6, hx = <usize>hb << 5;
  for (; n + 4 <= n1; n += 4) {
    let p = w + bf16RowAt(n, K);
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let xp = x;
    const end = p + hp;
    for (; p < end; p += 64, xp += 32) {
      let xa = v128.load(xp), xb = v128.load(xp, 16);
      let xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      a0 = bf16Dot(p, xe, xo, a0); a1 = bf16Dot(p + 16, xe, xo, a1);
      a2 = bf16Dot(p + 32, xe, xo, a2); a3 = bf16Dot(p + 48, xe, xo, a3);
      const q = p + hp;
      xa = v128.load(xp + hx); xb = v128.load(xp + hx, 16);
      xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6); xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      a0 = bf16Dot(q, xe, xo, a0); a1 = bf16Dot(q + 16, xe, xo, a1);
      a2 = bf16Dot(q + 32, xe, xo, a2); a3 = bf16Dot(q + 48, xe, xo, a3);
    }
    p += hp;
    xp += hx;
    if (nblk & 1) {
      const xa = v128.load(xp), xb = v128.load(xp, 16);
      const xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      a0 = bf16Dot(p, xe, xo, a0); a1 = bf16Dot(p + 16, xe, xo, a1);
      a2 = bf16Dot(p + 32, xe, xo, a2); a3 = bf16Dot(p + 48, xe, xo, a3);
      p += 64;
    }
    let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (let k = K8; k < K; k++) {
      const xv = load<f32>(x + (<usize>k << 2)), o = p + (<usize>(k & 7) << 1);
      s0 += xv * bf16At(o); s1 += xv * bf16At(o + 16); s2 += xv * bf16At(o + 32); s3 += xv * bf16At(o + 48);
    }
    const yo = y + (<usize>n << 2);
    store<f32>(yo, s0); store<f32>(yo, s1, 4); store<f32>(yo, s2, 8); store<f32>(yo, s3, 12);
  }
  for (; n < n1; n++) bf16Row(w, x, y, K, n);
}

/** Rows na..na+3 and nc..nc+3 (two whole tiles) of gemv_bf16, block by block (and half by half, K ≥ 1024). */
function bf16TileTwo(w: usize, x: usize, y: usize, K: i32, na: i32, nc: i32): void {
  const K8 = K & ~7;
  let p = w + bf16RowAt(na, K);
  const dq = w + bf16RowAt(nc, K) - p;
  let end = p + (<usize>(K8 >> 3) << 6);
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
  let xp = x;
  if (K >= 1024) {
    // tiles of 8 KiB or more: each also as two halves (4 KiB or more apart), four read streams in four pages;
    // unrolled by hand like the loop below: one body over blocks 0, hb, 1, hb + 1, … ran ~7 % slower
    const hb = (K8 >> 3) >> 1, hp = <usize>hb << 6, hx = <usize>hb << 5;
    const e1 = p + hp;
    for (; p < e1; p += 64, xp += 32) {
      let xa = v128.load(xp), xb = v128.load(xp, 16);
      let xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      let q = p + dq;
      a0 = bf16Dot(p, xe, xo, a0); c0 = bf16Dot(q, xe, xo, c0);
      a1 = bf16Dot(p + 16, xe, xo, a1); c1 = bf16Dot(q + 16, xe, xo, c1);
      a2 = bf16Dot(p + 32, xe, xo, a2); c2 = bf16Dot(q + 32, xe, xo, c2);
      a3 = bf16Dot(p + 48, xe, xo, a3); c3 = bf16Dot(q + 48, xe, xo, c3);
      xa = v128.load(xp + hx); xb = v128.load(xp + hx, 16);
      xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6); xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      const p2 = p + hp;
      q = p2 + dq;
      a0 = bf16Dot(p2, xe, xo, a0); c0 = bf16Dot(q, xe, xo, c0);
      a1 = bf16Dot(p2 + 16, xe, xo, a1); c1 = bf16Dot(q + 16, xe, xo, c1);
      a2 = bf16Dot(p2 + 32, xe, xo, a2); c2 = bf16Dot(q + 32, xe, xo, c2);
      a3 = bf16Dot(p2 + 48, xe, xo, a3); c3 = bf16Dot(q + 48, xe, xo, c3);
    }
    p += hp; xp += hx; // an odd last block below
  }
  for (; p < end; p += 64, xp += 32) {
    const xa = v128.load(xp), xb = v128.load(xp, 16);
    const xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
    const q = p + dq;
    a0 = bf16Dot(p, xe, xo, a0); c0 = bf16Dot(q, xe, xo, c0);
    a1 = bf16Dot(p + 16, xe, xo, a1); c1 = bf16Dot(q + 16, xe, xo, c1);
    a2 = bf16Dot(p + 32, xe, xo, a2); c2 = bf16Dot(q + 32, xe, xo, c2);
    a3 = bf16Dot(p + 48, xe, xo, a3); c3 = bf16Dot(q + 48, xe, xo, c3);
  }
  bf16TileTail(x, y, K, na, p, hsum(a0), hsum(a1), hsum(a2), hsum(a3));
  bf16TileTail(x, y, K, nc, p + dq, hsum(c0), hsum(c1), hsum(c2), hsum(c3));
}

/** Adds columns K8..K of a tile (whose last block starts at p) to its four sums and stores them at row n. */
@inline function bf16TileTail(x: usize, y: usize, K: i32, n: i32, p: usize, s0: f32, s1: f32, s2: f32, s3: f32): void {
  for (let k = K & ~7; k < K; k++) {
    const xv = load<f32>(x + (<usize>k << 2)), o = p + (<usize>(k & 7) << 1);
    s0 += xv * bf16At(o); s1 += xv * bf16At(o + 16); s2 += xv * bf16At(o + 32); s3 += xv * bf16At(o + 48);
  }
  const yo = y + (<usize>n << 2);
  store<f32>(yo, s0); store<f32>(yo, s1, 4); store<f32>(yo, s2, 8); store<f32>(yo, s3, 12);
}

/** One row of gemv_bf16 (rows outside whole tiles of a range). */
function bf16Row(w: usize, x: usize, y: usize, K: i32, n: i32): void {
  const K8 = K & ~7;
  let p = w + bf16RowAt(n, K);
  let a = f32x4.splat(0);
  for (let k = 0; k < K8; k += 8, p += 64) {
    const xa = v128.load(x + (<usize>k << 2)), xb = v128.load(x + (<usize>k << 2), 16);
    a = bf16Dot(p, v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), v128.shuffle<f32>(xa, xb, 1, 3, 5, 7), a);
  }
  let s = hsum(a);
  for (let k = K8; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * bf16At(p + (<usize>(k & 7) << 1));
  store<f32>(y + (<usize>n << 2), s);
}

@inline function fp8Dot16(r: usize, x0: v128, x1: v128, x2: v128, x3: v128, a: v128): v128 {
  const b = v128.load(r);
  return anyLowExp(b) ? fp8Dot16Exact(b, x0, x1, x2, x3, a) : fp8Dot16Fast(b, x0, x1, x2, x3, a);
}
/** a + the 16 codes b (normal codes only) · x0..x3. */
@inline function fp8Dot16Fast(b: v128, x0: v128, x1: v128, x2: v128, x3: v128, a: v128): v128 {
  const lo = fp8Bf16Lo(b), hi = fp8Bf16Hi(b);
  a = fma(bf16F32Lo(lo), x0, a);
  a = fma(bf16F32Hi(lo), x1, a);
  a = fma(bf16F32Lo(hi), x2, a);
  return fma(bf16F32Hi(hi), x3, a);
}
/** a + the 16 codes b (any codes) · x0..x3. */
@inline function fp8Dot16Exact(b: v128, x0: v128, x1: v128, x2: v128, x3: v128, a: v128): v128 {
  a = fma(fp8Exact(lane0(b)), x0, a);
  a = fma(fp8Exact(lane1(b)), x1, a);
  a = fma(fp8Exact(lane2(b)), x2, a);
  return fma(fp8Exact(lane3(b)), x3, a);
}


/** Byte offset of row n's first block in a tiled FP8 matrix of K columns. */
@inline export function fp8RowAt(n: i32, K: i32): usize { return <usize>(n >> 2) * (<usize>((K + 15) >> 4) << 6) + (<usize>(n & 3) << 4); }
/** Address of the code of element (n, k) of a tiled FP8 matrix. */
@inline export function fp8Addr(w: usize, K: i32, n: i32, k: i32): usize {
  return w + fp8RowAt(n, K) + (<usize>(k >> 4) << 6) + <usize>(k & 15);
}

/** FP8 rows with 128×128 block scales `sc` [ceil(N/128), ceil(K/128)]: partial sums per 128 columns. */
export function gemv_fp8(w: usize, sc: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const kb = (K + 127) >> 7;
  let n = n0;
  for (; n < n1 && (n & 3) != 0; n++) fp8Row(w, sc, x, y, K, n);
  for (; n + 4 <= n1; n += 4) { // 4 | 128, so the four rows share one scale row
    const t = w + fp8RowAt(n, K);
    const srow = sc + (<usize>((n >> 7) * kb) << 2);
    let t0 = f32x4.splat(0), t1 = t0, t2 = t0, t3 = t0;
    for (let b = 0; b < kb; b++) {
      const k0 = b << 7;
      const k1 = min(k0 + 128, K);
      const k16 = k0 + ((k1 - k0) & ~15);
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      // one test for the block's codes (four rows × up to 128), then a loop without branches: a test per
      // 16 codes made V8 spill the activations around every branch
      if (anyLowExpIn(t + (<usize>k0 << 2), (k16 - k0) << 2)) {
        for (let k = k0; k < k16; k += 16) {
          const xp = x + (<usize>k << 2);
          const p = t + (<usize>k << 2); // block k/16 at 64 bytes each
          const x0 = v128.load(xp), x1 = v128.load(xp, 16), x2 = v128.load(xp, 32), x3 = v128.load(xp, 48);
          a0 = fp8Dot16Exact(v128.load(p), x0, x1, x2, x3, a0); a1 = fp8Dot16Exact(v128.load(p, 16), x0, x1, x2, x3, a1);
          a2 = fp8Dot16Exact(v128.load(p, 32), x0, x1, x2, x3, a2); a3 = fp8Dot16Exact(v128.load(p, 48), x0, x1, x2, x3, a3);
        }
      } else {
        for (let k = k0; k < k16; k += 16) {
          const xp = x + (<usize>k << 2);
          const p = t + (<usize>k << 2);
          const x0 = v128.load(xp), x1 = v128.load(xp, 16), x2 = v128.load(xp, 32), x3 = v128.load(xp, 48);
          a0 = fp8Dot16Fast(v128.load(p), x0, x1, x2, x3, a0); a1 = fp8Dot16Fast(v128.load(p, 16), x0, x1, x2, x3, a1);
          a2 = fp8Dot16Fast(v128.load(p, 32), x0, x1, x2, x3, a2); a3 = fp8Dot16Fast(v128.load(p, 48), x0, x1, x2, x3, a3);
        }
      }
      if (k16 < k1) {
        let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
        const p = t + (<usize>k16 << 2);
        for (let k = k16; k < k1; k++) {
          const xv = load<f32>(x + (<usize>k << 2));
          const c = p + <usize>(k & 15);
          s0 += xv * scalarE4m3(load<u8>(c)); s1 += xv * scalarE4m3(load<u8>(c + 16));
          s2 += xv * scalarE4m3(load<u8>(c + 32)); s3 += xv * scalarE4m3(load<u8>(c + 48));
        }
        a0 = f32x4.replace_lane(a0, 0, f32x4.extract_lane(a0, 0) + s0);
        a1 = f32x4.replace_lane(a1, 0, f32x4.extract_lane(a1, 0) + s1);
        a2 = f32x4.replace_lane(a2, 0, f32x4.extract_lane(a2, 0) + s2);
        a3 = f32x4.replace_lane(a3, 0, f32x4.extract_lane(a3, 0) + s3);
      }
      const s = f32x4.splat(load<f32>(srow + (<usize>b << 2)));
      t0 = fma(a0, s, t0); t1 = fma(a1, s, t1);
      t2 = fma(a2, s, t2); t3 = fma(a3, s, t3);
    }
    const yo = y + (<usize>n << 2);
    store<f32>(yo, hsum(t0)); store<f32>(yo, hsum(t1), 4); store<f32>(yo, hsum(t2), 8); store<f32>(yo, hsum(t3), 12);
  }
  for (; n < n1; n++) fp8Row(w, sc, x, y, K, n);
}

/** One row of gemv_fp8 (rows outside whole tiles of a range). */
function fp8Row(w: usize, sc: usize, x: usize, y: usize, K: i32, n: i32): void {
  const kb = (K + 127) >> 7;
  const r = w + fp8RowAt(n, K);
  const srow = sc + (<usize>((n >> 7) * kb) << 2);
  let tot: f32 = 0;
  for (let b = 0; b < kb; b++) {
    const k0 = b << 7;
    const k1 = min(k0 + 128, K);
    let a = f32x4.splat(0);
    let k = k0;
    for (; k + 16 <= k1; k += 16) {
      const xp = x + (<usize>k << 2);
      a = fp8Dot16(r + (<usize>k << 2), v128.load(xp), v128.load(xp, 16), v128.load(xp, 32), v128.load(xp, 48), a);
    }
    let s = hsum(a);
    for (; k < k1; k++) s += load<f32>(x + (<usize>k << 2)) * scalarE4m3(load<u8>(r + ((<usize>k >> 4) << 6) + <usize>(k & 15)));
    tot += s * load<f32>(srow + (<usize>b << 2));
  }
  store<f32>(y + (<usize>n << 2), tot);
}

// ---- unpacking for a native GEMM --------------------------------------------------------------------

/** Writes rows [n0,n1) of a tiled f32/bf16/fp8 weight as row-major fp32 (dst [N,K]), FP8 times its block scales. */
export function unpack_rows(fmt: i32, w: usize, sc: usize, K: i32, dst: usize, n0: i32, n1: i32): void {
  const kb = (K + 127) >> 7;
  for (let n = n0; n < n1; n++) {
    const d = dst + ((<usize>n * <usize>K) << 2);
    if (fmt == FMT_F32) {
      const r = w + f32RowAt(n, K);
      const K4 = K & ~3;
      for (let k = 0; k < K4; k += 4) v128.store(d + (<usize>k << 2), v128.load(r + (<usize>(k >> 2) << 6)));
      for (let k = K4; k < K; k++) store<f32>(d + (<usize>k << 2), load<f32>(f32Addr(w, K, n, k)));
    } else if (fmt == FMT_BF16) {
      const r = w + bf16RowAt(n, K);
      const K8 = K & ~7;
      for (let k = 0; k < K8; k += 8) {
        const v = v128.load(r + (<usize>(k >> 3) << 6));
        v128.store(d + (<usize>k << 2), i32x4.shl(i32x4.extend_low_i16x8_u(v), 16));
        v128.store(d + (<usize>k << 2), i32x4.shl(i32x4.extend_high_i16x8_u(v), 16), 16);
      }
      for (let k = K8; k < K; k++) store<f32>(d + (<usize>k << 2), bf16At(bf16Addr(w, K, n, k)));
    } else {
      const srow = sc + (<usize>((n >> 7) * kb) << 2);
      const K16 = K & ~15;
      for (let k = 0; k < K16; k += 16) decode_fp8(fp8Addr(w, K, n, k), d + (<usize>k << 2), 16, srow + (<usize>(k >> 7) << 2));
      for (let k = K16; k < K; k++) store<f32>(d + (<usize>k << 2), scalarE4m3(load<u8>(fp8Addr(w, K, n, k))) * load<f32>(srow + (<usize>(k >> 7) << 2)));
    }
  }
}
