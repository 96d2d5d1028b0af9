// WebAssembly SIMD128 kernels of the wasm backend (src/kernels/wasm). Raw pointers into one imported
// shared memory; no GC objects. Every thread instantiates this module on the same memory, so its only
// data segment (Mathf.exp's constant table, below 64 KiB) is re-copied with identical bytes each time;
// the backend's allocator never hands out the first 64 KiB.
// Every kernel that is split across threads takes its own row range [n0, n1).
// Formats: FMT_F32 rows as stored; FMT_BF16 rows as stored; FMT_FP8 e4m3 rows + fp32 scales per
// 128×128 block; q8 = int8 rows padded to a multiple of 32 + one fp32 scale per 32.

const FMT_F32: i32 = 0;
const FMT_BF16: i32 = 1;
const FMT_FP8: i32 = 2;
const QB: i32 = 32; // q8 block

/** a·b + c: one fused multiply-add in the relaxed-SIMD build, a multiply and an add in the baseline one. */
@inline function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// ---- FP8 e4m3 decoding -------------------------------------------------------------------------
// A byte b placed in the top 8 bits of an i32 lane: shifting right arithmetically by 4 puts the 7
// magnitude bits (4 exponent, 3 mantissa) into the low exponent / high mantissa bits of an f32 and
// keeps the sign; adding 120 to the exponent rebias 7 → 127. That is exact for every normal code.
// Exponent-0 codes (zero and subnormals, ±m·2^-9) would land on f32 denormals, which are slow and
// wrong here, so they take a select through an int→float conversion. 0x7F/0xFF (NaN) decode as 480.

@inline function scalarE4m3(b: u32): f32 {
  const em = b & 0x7f;
  const v: f32 = em < 8 ? <f32>em * (1.0 / 512.0) : reinterpret<f32>((em << 20) + (120 << 23));
  return (b & 0x80) != 0 ? -v : v;
}

@inline function fp8Fast(lane: v128): v128 {
  return i32x4.add(v128.and(i32x4.shr_s(lane, 4), i32x4.splat(0x87f00000)), i32x4.splat(120 << 23));
}

@inline function fp8Exact(lane: v128): v128 {
  const t = v128.and(i32x4.shr_s(lane, 4), i32x4.splat(0x87f00000));
  const norm = i32x4.add(t, i32x4.splat(120 << 23));
  const em = v128.and(t, i32x4.splat(0x07f00000));
  const isSub = i32x4.lt_u(em, i32x4.splat(0x00800000));
  const mag = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(em, 20)), f32x4.splat(1.0 / 512.0));
  const sub = v128.or(mag, v128.and(t, i32x4.splat(0x80000000)));
  return v128.bitselect(sub, norm, isSub);
}

@inline function lane0(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 16, 0, 0, 0, 17, 0, 0, 0, 18, 0, 0, 0, 19); }
@inline function lane1(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 20, 0, 0, 0, 21, 0, 0, 0, 22, 0, 0, 0, 23); }
@inline function lane2(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 24, 0, 0, 0, 25, 0, 0, 0, 26, 0, 0, 0, 27); }
@inline function lane3(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 28, 0, 0, 0, 29, 0, 0, 0, 30, 0, 0, 0, 31); }

/** True when some byte of 16 e4m3 codes has exponent field 0 (needs the exact decode). */
@inline function anyLowExp(b: v128): bool {
  return v128.any_true(i8x16.eq(v128.and(b, i8x16.splat(0x78)), i8x16.splat(0)));
}

/** Decodes n e4m3 codes to f32, each group of 128 multiplied by its scale (scales null → 1). */
export function decode_fp8(src: usize, dst: usize, n: i32, scales: usize): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const b = v128.load(src + <usize>i);
    const s = scales ? f32x4.splat(load<f32>(scales + (<usize>(i >> 7) << 2))) : f32x4.splat(1);
    const o = dst + (<usize>i << 2);
    v128.store(o, f32x4.mul(fp8Exact(lane0(b)), s));
    v128.store(o, f32x4.mul(fp8Exact(lane1(b)), s), 16);
    v128.store(o, f32x4.mul(fp8Exact(lane2(b)), s), 32);
    v128.store(o, f32x4.mul(fp8Exact(lane3(b)), s), 48);
  }
  for (; i < n; i++) {
    const s: f32 = scales ? load<f32>(scales + (<usize>(i >> 7) << 2)) : 1;
    store<f32>(dst + (<usize>i << 2), scalarE4m3(load<u8>(src + <usize>i)) * s);
  }
}

// ---- GEMV (M = 1): four row streams at a time, bandwidth bound ---------------------------------

export function gemv_f32(w: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const rb = <usize>K << 2;
  const K4 = K & ~3;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const r0 = w + <usize>n * rb, r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      const xv = v128.load(x + o);
      // multiply + add, not fma: see bf16Dot
      a0 = f32x4.add(a0, f32x4.mul(v128.load(r0 + o), xv));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(r1 + o), xv));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(r2 + o), xv));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(r3 + o), xv));
    }
    let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (let k = K4; k < K; k++) {
      const o = <usize>k << 2;
      const xv = load<f32>(x + o);
      s0 += xv * load<f32>(r0 + o); s1 += xv * load<f32>(r1 + o);
      s2 += xv * load<f32>(r2 + o); s3 += xv * load<f32>(r3 + o);
    }
    const yo = y + (<usize>n << 2);
    store<f32>(yo, s0); store<f32>(yo, s1, 4); store<f32>(yo, s2, 8); store<f32>(yo, s3, 12);
  }
  for (; n < n1; n++) {
    const r = w + <usize>n * rb;
    let a = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) a = fma(v128.load(r + (<usize>k << 2)), v128.load(x + (<usize>k << 2)), a);
    let s = hsum(a);
    for (let k = K4; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * load<f32>(r + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), s);
  }
}

// bf16 → f32 is a 16-bit shift: of 8 stored values, `shl 16` yields the even ones and `and 0xffff0000`
// the odd ones, so x is split into even/odd lanes by one shuffle shared by the four rows.
// Plain multiply and add on purpose: a fused multiply-add's 4-cycle latency on this accumulator chain
// made the relaxed build 16% slower here (measured), and more accumulators spill registers in V8.
@inline function bf16Dot(r: usize, xe: v128, xo: v128, a: v128): v128 {
  const v = v128.load(r);
  return f32x4.add(f32x4.add(a, f32x4.mul(i32x4.shl(v, 16), xe)), f32x4.mul(v128.and(v, i32x4.splat(0xffff0000)), xo));
}

@inline function bf16At(p: usize): f32 { return reinterpret<f32>(<u32>load<u16>(p) << 16); }

export function gemv_bf16(w: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const rb = <usize>K << 1;
  const K8 = K & ~7;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const r0 = w + <usize>n * rb, r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let k = 0; k < K8; k += 8) {
      const xa = v128.load(x + (<usize>k << 2)), xb = v128.load(x + (<usize>k << 2), 16);
      const xe = v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), xo = v128.shuffle<f32>(xa, xb, 1, 3, 5, 7);
      const o = <usize>k << 1;
      a0 = bf16Dot(r0 + o, xe, xo, a0); a1 = bf16Dot(r1 + o, xe, xo, a1);
      a2 = bf16Dot(r2 + o, xe, xo, a2); a3 = bf16Dot(r3 + o, xe, xo, a3);
    }
    let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    for (let k = K8; k < K; k++) {
      const xv = load<f32>(x + (<usize>k << 2)), o = <usize>k << 1;
      s0 += xv * bf16At(r0 + o); s1 += xv * bf16At(r1 + o); s2 += xv * bf16At(r2 + o); s3 += xv * bf16At(r3 + o);
    }
    const yo = y + (<usize>n << 2);
    store<f32>(yo, s0); store<f32>(yo, s1, 4); store<f32>(yo, s2, 8); store<f32>(yo, s3, 12);
  }
  for (; n < n1; n++) {
    const r = w + <usize>n * rb;
    let a = f32x4.splat(0);
    for (let k = 0; k < K8; k += 8) {
      const xa = v128.load(x + (<usize>k << 2)), xb = v128.load(x + (<usize>k << 2), 16);
      a = bf16Dot(r + (<usize>k << 1), v128.shuffle<f32>(xa, xb, 0, 2, 4, 6), v128.shuffle<f32>(xa, xb, 1, 3, 5, 7), a);
    }
    let s = hsum(a);
    for (let k = K8; k < K; k++) s += load<f32>(x + (<usize>k << 2)) * bf16At(r + (<usize>k << 1));
    store<f32>(y + (<usize>n << 2), s);
  }
}

@inline function fp8Dot16(r: usize, x0: v128, x1: v128, x2: v128, x3: v128, a: v128): v128 {
  const b = v128.load(r);
  if (anyLowExp(b)) {
    a = fma(fp8Exact(lane0(b)), x0, a);
    a = fma(fp8Exact(lane1(b)), x1, a);
    a = fma(fp8Exact(lane2(b)), x2, a);
    return fma(fp8Exact(lane3(b)), x3, a);
  }
  a = fma(fp8Fast(lane0(b)), x0, a);
  a = fma(fp8Fast(lane1(b)), x1, a);
  a = fma(fp8Fast(lane2(b)), x2, a);
  return fma(fp8Fast(lane3(b)), x3, a);
}

/** FP8 rows with 128×128 block scales `sc` [ceil(N/128), ceil(K/128)]: partial sums per 128 columns. */
export function gemv_fp8(w: usize, sc: usize, x: usize, y: usize, K: i32, n0: i32, n1: i32): void {
  const rb = <usize>K;
  const kb = (K + 127) >> 7;
  let n = n0;
  for (; n + 4 <= n1; n += 4) { // 4 | 128, so the four rows share one scale row
    const r0 = w + <usize>n * rb, r1 = r0 + rb, r2 = r1 + rb, r3 = r2 + rb;
    const srow = sc + (<usize>((n >> 7) * kb) << 2);
    let t0 = f32x4.splat(0), t1 = t0, t2 = t0, t3 = t0;
    for (let b = 0; b < kb; b++) {
      const k0 = b << 7;
      const k1 = min(k0 + 128, K);
      const k16 = k0 + ((k1 - k0) & ~15);
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let k = k0; k < k16; k += 16) {
        const xp = x + (<usize>k << 2);
        const x0 = v128.load(xp), x1 = v128.load(xp, 16), x2 = v128.load(xp, 32), x3 = v128.load(xp, 48);
        a0 = fp8Dot16(r0 + <usize>k, x0, x1, x2, x3, a0);
        a1 = fp8Dot16(r1 + <usize>k, x0, x1, x2, x3, a1);
        a2 = fp8Dot16(r2 + <usize>k, x0, x1, x2, x3, a2);
        a3 = fp8Dot16(r3 + <usize>k, x0, x1, x2, x3, a3);
      }
      if (k16 < k1) {
        let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
        for (let k = k16; k < k1; k++) {
          const xv = load<f32>(x + (<usize>k << 2));
          s0 += xv * scalarE4m3(load<u8>(r0 + <usize>k)); s1 += xv * scalarE4m3(load<u8>(r1 + <usize>k));
          s2 += xv * scalarE4m3(load<u8>(r2 + <usize>k)); s3 += xv * scalarE4m3(load<u8>(r3 + <usize>k));
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
  for (; n < n1; n++) {
    const r = w + <usize>n * rb;
    const srow = sc + (<usize>((n >> 7) * kb) << 2);
    let tot: f32 = 0;
    for (let b = 0; b < kb; b++) {
      const k0 = b << 7;
      const k1 = min(k0 + 128, K);
      let a = f32x4.splat(0);
      let k = k0;
      for (; k + 16 <= k1; k += 16) {
        const xp = x + (<usize>k << 2);
        a = fp8Dot16(r + <usize>k, v128.load(xp), v128.load(xp, 16), v128.load(xp, 32), v128.load(xp, 48), a);
      }
      let s = hsum(a);
      for (; k < k1; k++) s += load<f32>(x + (<usize>k << 2)) * scalarE4m3(load<u8>(r + <usize>k));
      tot += s * load<f32>(srow + (<usize>b << 2));
    }
    store<f32>(y + (<usize>n << 2), tot);
  }
}

// ---- GEMM (M > 1): pack 8 weight rows × KC columns as [k][8] fp32, 4×8 register block ------------

const KC: i32 = 256;

/** Decoded weight element (n, k), block scale applied exactly as the portable backend does. */
@inline function weightAt(fmt: i32, w: usize, sc: usize, K: i32, n: i32, k: i32): f32 {
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
  const rs = <usize>K << 1;
  const r0 = w + ((<usize>n * <usize>K + <usize>k0) << 1);
  let k = 0;
  for (; k + 8 <= kc; k += 8) {
    const o = <usize>k << 1;
    const v0 = v128.load(r0 + o), v1 = v128.load(r0 + rs + o), v2 = v128.load(r0 + 2 * rs + o), v3 = v128.load(r0 + 3 * rs + o);
    const v4 = v128.load(r0 + 4 * rs + o), v5 = v128.load(r0 + 5 * rs + o), v6 = v128.load(r0 + 6 * rs + o), v7 = v128.load(r0 + 7 * rs + o);
    const d = dst + (<usize>k << 5);
    store4x4T(bf16Lo(v0), bf16Lo(v1), bf16Lo(v2), bf16Lo(v3), d);
    store4x4T(bf16Lo(v4), bf16Lo(v5), bf16Lo(v6), bf16Lo(v7), d + 16);
    store4x4T(bf16Hi(v0), bf16Hi(v1), bf16Hi(v2), bf16Hi(v3), d + 128);
    store4x4T(bf16Hi(v4), bf16Hi(v5), bf16Hi(v6), bf16Hi(v7), d + 144);
  }
  for (; k < kc; k++) {
    for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>r << 2) + (<usize>k << 5), bf16At(r0 + <usize>r * rs + (<usize>k << 1)));
  }
}

/** A full 8-row f32 panel in SIMD: 4 k at a time, transposed into the k-major layout. */
function packPanelF32(w: usize, K: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  transpose8(w + ((<usize>n * <usize>K + <usize>k0) << 2), <usize>K << 2, kc, dst);
}

/** 8 f32 rows of kc values (row stride rs bytes) into the k-major panel. */
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
 * A full 8-row FP8 panel: each row decoded with the SIMD e4m3 decoder (scales per 128 columns) into the
 * scratch half of the pack buffer, then transposed. `dst` has KC·8 floats of panel + KC·8 of scratch.
 */
function packPanelFp8(w: usize, sc: usize, K: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
  const kb = (K + 127) >> 7;
  const tmp = dst + (<usize>KC << 5);
  for (let r = 0; r < 8; r++) {
    const nn = n + r;
    decode_fp8(w + <usize>nn * <usize>K + <usize>k0, tmp + (<usize>(r * kc) << 2), kc, sc + (<usize>((nn >> 7) * kb + (k0 >> 7)) << 2));
  }
  transpose8(tmp, <usize>kc << 2, kc, dst);
}

function packPanel(fmt: i32, w: usize, sc: usize, K: i32, N: i32, n: i32, k0: i32, kc: i32, dst: usize): void {
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
    const row = <usize>nn * <usize>K + <usize>k0;
    // one loop per format (no per-element dispatch); FP8 scales hoisted per 128 columns
    if (fmt == FMT_F32) {
      for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), load<f32>(w + ((row + <usize>k) << 2)));
    } else if (fmt == FMT_BF16) {
      for (let k = 0; k < kc; k++) store<f32>(d + (<usize>k << 5), bf16At(w + ((row + <usize>k) << 1)));
    } else {
      const srow = sc + (<usize>((nn >> 7) * kb) << 2);
      for (let k = 0; k < kc;) {
        const kg = k0 + k;
        const end = min(kc, k + 128 - (kg & 127));
        const s = load<f32>(srow + (<usize>(kg >> 7) << 2));
        for (; k < end; k++) store<f32>(d + (<usize>k << 5), scalarE4m3(load<u8>(w + row + <usize>k)) * s);
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
    gemm_q8(wq, ws, xq + <usize>g * <usize>Kp, xs + <usize>g * sb, y, 1, 0, Kp, n, e);
    n = e;
  }
}

// ---- attention-side kernels --------------------------------------------------------------------

@inline function dotF32(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = fma(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2)), acc);
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/**
 * Indexer scores for tokens [t0,t1): out[t] = kScale[t]·Σ_h w[h]·ReLU(q_h·e4m3(k_t)). D % 16 == 0.
 * Four tokens are decoded into `kbuf` (4·D floats, per thread) so each q_h load serves four dots.
 */
export function indexer_scores(q: usize, w: usize, H: i32, D: i32, codes: usize, ksc: usize, out: usize, t0: i32, t1: i32, kbuf: usize): void {
  const db = <usize>D << 2;
  let t = t0;
  for (; t < t1; t += 4) {
    const nt = min(4, t1 - t);
    for (let j = 0; j < 4; j++) {
      const tt = j < nt ? t + j : t; // pad the last group with a repeat of its first token
      decode_fp8(codes + <usize>tt * <usize>D, kbuf + <usize>j * db, D, 0);
    }
    const k0 = kbuf, k1 = k0 + db, k2 = k1 + db, k3 = k2 + db;
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let h = 0; h < H; h++) {
      const qh = q + <usize>h * db;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let d = 0; d < D; d += 4) {
        const o = <usize>d << 2;
        const qv = v128.load(qh + o);
        a0 = fma(qv, v128.load(k0 + o), a0);
        a1 = fma(qv, v128.load(k1 + o), a1);
        a2 = fma(qv, v128.load(k2 + o), a2);
        a3 = fma(qv, v128.load(k3 + o), a3);
      }
      const wh = load<f32>(w + (<usize>h << 2));
      s0 += wh * max<f32>(hsum(a0), 0); s1 += wh * max<f32>(hsum(a1), 0);
      s2 += wh * max<f32>(hsum(a2), 0); s3 += wh * max<f32>(hsum(a3), 0);
    }
    store<f32>(out + (<usize>t << 2), s0 * load<f32>(ksc + (<usize>t << 2)));
    if (nt > 1) store<f32>(out + (<usize>(t + 1) << 2), s1 * load<f32>(ksc + (<usize>(t + 1) << 2)));
    if (nt > 2) store<f32>(out + (<usize>(t + 2) << 2), s2 * load<f32>(ksc + (<usize>(t + 2) << 2)));
    if (nt > 3) store<f32>(out + (<usize>(t + 3) << 2), s3 * load<f32>(ksc + (<usize>(t + 3) << 2)));
  }
}

/** Decodes gathered FP8 latent rows [i0,i1) (R codes + R/128 scales each) to fp32 rows. */
export function decode_latent(codes: usize, scales: usize, R: i32, dst: usize, i0: i32, i1: i32): void {
  const g = R >> 7;
  for (let i = i0; i < i1; i++) {
    decode_fp8(codes + <usize>i * <usize>R, dst + ((<usize>i * <usize>R) << 2), R, scales + (<usize>(i * g) << 2));
  }
}

/**
 * Gathers cache rows i in [i0,i1) straight from a cache that lives in this memory: row t = sel[i] (or i
 * when sel is 0). FP8 latents (codes + per-128 scales) are decoded to fp32, fp32 latents copied; the
 * RoPE key rows are copied. dst rows are dense [n,R] and [n,P].
 */
export function gather_latent(fp8: i32, codes: usize, scales: usize, f32src: usize, peSrc: usize, sel: usize, R: i32, P: i32,
  dstLat: usize, dstPe: usize, i0: i32, i1: i32): void {
  const g = R >> 7;
  const rb = <usize>R << 2, pb = <usize>P << 2;
  for (let i = i0; i < i1; i++) {
    const t: usize = sel ? <usize>load<i32>(sel + (<usize>i << 2)) : <usize>i;
    if (fp8) decode_fp8(codes + t * <usize>R, dstLat + <usize>i * rb, R, scales + ((t * <usize>g) << 2));
    else memory.copy(dstLat + <usize>i * rb, f32src + t * rb, rb);
    memory.copy(dstPe + <usize>i * pb, peSrc + t * pb, pb);
  }
}

/**
 * Absorbed attention for heads [h0,h1) over n gathered rows: lat [n,R] fp32, pe [n,P] fp32.
 * Heads go in blocks of four so each latent row is read once per block, not once per head (the rows
 * are the large operand: n·R floats against 4·R of queries). `s` is this thread's 4·n floats of scores.
 * R and P are multiples of 4.
 */
export function latent_attention(qLat: usize, qPe: usize, lat: usize, pe: usize, n: i32, R: i32, P: i32, scale: f32, out: usize, h0: i32, h1: i32, s: usize): void {
  const rb = <usize>R << 2, pb = <usize>P << 2, nb = <usize>n << 2;
  for (let h = h0; h < h1; h += 4) {
    const hn = min(4, h1 - h);
    // absent heads of a short block repeat the last one; their results are not stored
    const q0 = qLat + <usize>h * rb, q1 = qLat + <usize>(h + min(1, hn - 1)) * rb;
    const q2 = qLat + <usize>(h + min(2, hn - 1)) * rb, q3 = qLat + <usize>(h + min(3, hn - 1)) * rb;
    const p0 = qPe + <usize>h * pb, p1 = qPe + <usize>(h + min(1, hn - 1)) * pb;
    const p2 = qPe + <usize>(h + min(2, hn - 1)) * pb, p3 = qPe + <usize>(h + min(3, hn - 1)) * pb;
    let m0: f32 = -Infinity, m1: f32 = -Infinity, m2: f32 = -Infinity, m3: f32 = -Infinity;
    for (let i = 0; i < n; i++) {
      const li = lat + <usize>i * rb, pi = pe + <usize>i * pb;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (let c = 0; c < R; c += 4) {
        const o = <usize>c << 2;
        const l = v128.load(li + o);
        a0 = fma(v128.load(q0 + o), l, a0); a1 = fma(v128.load(q1 + o), l, a1);
        a2 = fma(v128.load(q2 + o), l, a2); a3 = fma(v128.load(q3 + o), l, a3);
      }
      for (let c = 0; c < P; c += 4) {
        const o = <usize>c << 2;
        const l = v128.load(pi + o);
        a0 = fma(v128.load(p0 + o), l, a0); a1 = fma(v128.load(p1 + o), l, a1);
        a2 = fma(v128.load(p2 + o), l, a2); a3 = fma(v128.load(p3 + o), l, a3);
      }
      const v0 = hsum(a0) * scale, v1 = hsum(a1) * scale, v2 = hsum(a2) * scale, v3 = hsum(a3) * scale;
      const si = s + (<usize>i << 2);
      store<f32>(si, v0); store<f32>(si + nb, v1); store<f32>(si + 2 * nb, v2); store<f32>(si + 3 * nb, v3);
      m0 = max(m0, v0); m1 = max(m1, v1); m2 = max(m2, v2); m3 = max(m3, v3);
    }
    let z0: f32 = 0, z1: f32 = 0, z2: f32 = 0, z3: f32 = 0;
    for (let i = 0; i < n; i++) {
      const si = s + (<usize>i << 2);
      const e0 = Mathf.exp(load<f32>(si) - m0), e1 = Mathf.exp(load<f32>(si + nb) - m1);
      const e2 = Mathf.exp(load<f32>(si + 2 * nb) - m2), e3 = Mathf.exp(load<f32>(si + 3 * nb) - m3);
      store<f32>(si, e0); store<f32>(si + nb, e1); store<f32>(si + 2 * nb, e2); store<f32>(si + 3 * nb, e3);
      z0 += e0; z1 += e1; z2 += e2; z3 += e3;
    }
    // out rows of the block: a short block writes its extra heads into this thread's score scratch
    // tail (4·n floats are past it), so the loop below needs no branches
    const o0 = out + <usize>h * rb;
    const o1 = hn > 1 ? o0 + rb : s + 4 * nb, o2 = hn > 2 ? o0 + 2 * rb : s + 4 * nb + rb, o3 = hn > 3 ? o0 + 3 * rb : s + 4 * nb + 2 * rb;
    for (let c = 0; c < R; c += 4) {
      const o = <usize>c << 2;
      v128.store(o0 + o, f32x4.splat(0)); v128.store(o1 + o, f32x4.splat(0));
      v128.store(o2 + o, f32x4.splat(0)); v128.store(o3 + o, f32x4.splat(0));
    }
    const i0 = f32x4.splat(1 / z0), i1 = f32x4.splat(1 / z1), i2 = f32x4.splat(1 / z2), i3 = f32x4.splat(1 / z3);
    for (let i = 0; i < n; i++) {
      const si = s + (<usize>i << 2);
      const w0 = f32x4.mul(f32x4.splat(load<f32>(si)), i0), w1 = f32x4.mul(f32x4.splat(load<f32>(si + nb)), i1);
      const w2 = f32x4.mul(f32x4.splat(load<f32>(si + 2 * nb)), i2), w3 = f32x4.mul(f32x4.splat(load<f32>(si + 3 * nb)), i3);
      const li = lat + <usize>i * rb;
      for (let c = 0; c < R; c += 4) {
        const o = <usize>c << 2;
        const l = v128.load(li + o);
        v128.store(o0 + o, fma(w0, l, v128.load(o0 + o)));
        v128.store(o1 + o, fma(w1, l, v128.load(o1 + o)));
        v128.store(o2 + o, fma(w2, l, v128.load(o2 + o)));
        v128.store(o3 + o, fma(w3, l, v128.load(o3 + o)));
      }
    }
  }
}
