// Shared pieces of the kernels: format codes, the fused/unfused multiply-add, horizontal sums, and
// FP8 e4m3 decoding. See kernels.ts for how the modules fit together.

export const FMT_F32: i32 = 0;
export const FMT_BF16: i32 = 1;
export const FMT_FP8: i32 = 2;
/** Row-major f32 (not tiled): the training GEMM's operands, written fresh for every call (src/train/wasm-gemm.ts). */
export const FMT_F32_ROWS: i32 = 3;
export const QB: i32 = 32; // q8 block

/** a·b + c: one fused multiply-add in the relaxed-SIMD build, a multiply and an add in the baseline one. */
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// ---- FP8 e4m3 decoding -------------------------------------------------------------------------
// A byte b placed in the top 8 bits of an i32 lane: shifting right arithmetically by 4 puts the 7
// magnitude bits (4 exponent, 3 mantissa) into the low exponent / high mantissa bits of an f32 and
// keeps the sign; adding 120 to the exponent rebias 7 → 127. That is exact for every normal code.
// Exponent-0 codes (zero and subnormals, ±m·2^-9) would land on f32 denormals, which are slow and
// wrong here, so they take a select through an int→float conversion. 0x7F/0xFF (NaN) decode as 480.

@inline export function scalarE4m3(b: u32): f32 {
  const em = b & 0x7f;
  const v: f32 = em < 8 ? <f32>em * (1.0 / 512.0) : reinterpret<f32>((em << 20) + (120 << 23));
  return (b & 0x80) != 0 ? -v : v;
}

@inline export function fp8Exact(lane: v128): v128 {
  const t = v128.and(i32x4.shr_s(lane, 4), i32x4.splat(0x87f00000));
  const norm = i32x4.add(t, i32x4.splat(120 << 23));
  const em = v128.and(t, i32x4.splat(0x07f00000));
  const isSub = i32x4.lt_u(em, i32x4.splat(0x00800000));
  const mag = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(em, 20)), f32x4.splat(1.0 / 512.0));
  const sub = v128.or(mag, v128.and(t, i32x4.splat(0x80000000)));
  return v128.bitselect(sub, norm, isSub);
}

// The fast path without byte shuffles (V8 lowers a two-input i8x16.shuffle to several instructions):
// the code sign-extended to 16 bits and shifted left by 4 has the sign in bit 15 and the 7 magnitude bits
// in bits 10..4 — masked and rebiased, that is the bf16 of a normal code's value, eight codes per vector;
// bf16 → f32 is a widening and a shift.
@inline export function fp8Bf16Lo(b: v128): v128 {
  return i16x8.add(v128.and(i16x8.shl(i16x8.extend_low_i8x16_s(b), 4), i16x8.splat(<i16>0x87f0)), i16x8.splat(120 << 7));
}
@inline export function fp8Bf16Hi(b: v128): v128 {
  return i16x8.add(v128.and(i16x8.shl(i16x8.extend_high_i8x16_s(b), 4), i16x8.splat(<i16>0x87f0)), i16x8.splat(120 << 7));
}
@inline export function bf16F32Lo(v: v128): v128 { return i32x4.shl(i32x4.extend_low_i16x8_u(v), 16); }
@inline export function bf16F32Hi(v: v128): v128 { return i32x4.shl(i32x4.extend_high_i16x8_u(v), 16); }

@inline export function lane0(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 16, 0, 0, 0, 17, 0, 0, 0, 18, 0, 0, 0, 19); }
@inline export function lane1(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 20, 0, 0, 0, 21, 0, 0, 0, 22, 0, 0, 0, 23); }
@inline export function lane2(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 24, 0, 0, 0, 25, 0, 0, 0, 26, 0, 0, 0, 27); }
@inline export function lane3(b: v128): v128 { return i8x16.shuffle(i8x16.splat(0), b, 0, 0, 0, 28, 0, 0, 0, 29, 0, 0, 0, 30, 0, 0, 0, 31); }

/** True when some byte of 16 e4m3 codes has exponent field 0 (needs the exact decode). */
@inline export function anyLowExp(b: v128): bool {
  return v128.any_true(i8x16.eq(v128.and(b, i8x16.splat(0x78)), i8x16.splat(0)));
}

/** True when some of the n bytes of codes at src (n % 16 == 0) has exponent field 0: one test for all of them. */
@inline export function anyLowExpIn(src: usize, n: i32): bool {
  const m = i8x16.splat(0x78), z = i8x16.splat(0);
  let lowv = z;
  let i = 0;
  // 64 bytes per step, the four tests combined as a tree (a chain of one OR per 16 bytes cost ~10 % in gemv_fp8)
  for (; i + 64 <= n; i += 64) {
    const p = src + <usize>i;
    lowv = v128.or(lowv, v128.or(v128.or(i8x16.eq(v128.and(v128.load(p), m), z), i8x16.eq(v128.and(v128.load(p, 16), m), z)),
      v128.or(i8x16.eq(v128.and(v128.load(p, 32), m), z), i8x16.eq(v128.and(v128.load(p, 48), m), z))));
  }
  for (; i < n; i += 16) lowv = v128.or(lowv, i8x16.eq(v128.and(v128.load(src + <usize>i), m), z));
  return v128.any_true(lowv);
}

/** The 16 codes b to f32 at o (exact: any code; else normal codes only), times s when `scaled`. */
@inline function store16(b: v128, o: usize, s: v128, scaled: bool, exact: bool): void {
  if (exact) {
    const v0 = fp8Exact(lane0(b)), v1 = fp8Exact(lane1(b)), v2 = fp8Exact(lane2(b)), v3 = fp8Exact(lane3(b));
    v128.store(o, scaled ? f32x4.mul(v0, s) : v0); v128.store(o, scaled ? f32x4.mul(v1, s) : v1, 16);
    v128.store(o, scaled ? f32x4.mul(v2, s) : v2, 32); v128.store(o, scaled ? f32x4.mul(v3, s) : v3, 48);
  } else {
    const lo = fp8Bf16Lo(b), hi = fp8Bf16Hi(b);
    const v0 = bf16F32Lo(lo), v1 = bf16F32Hi(lo), v2 = bf16F32Lo(hi), v3 = bf16F32Hi(hi);
    v128.store(o, scaled ? f32x4.mul(v0, s) : v0); v128.store(o, scaled ? f32x4.mul(v1, s) : v1, 16);
    v128.store(o, scaled ? f32x4.mul(v2, s) : v2, 32); v128.store(o, scaled ? f32x4.mul(v3, s) : v3, 48);
  }
}

/**
 * n e4m3 codes to f32, each group of 128 multiplied by its scale; scales 0: unscaled, with no multiply
 * (inlined with a constant 0 the tests fold away — the indexer's keys, whose scale goes on the score).
 * One test for every code first, then (nearly always) a loop without branches.
 */
@inline export function decodeCodes(src: usize, dst: usize, n: i32, scales: usize): void {
  const n16 = n & ~15;
  const scaled = scales != 0;
  let i = 0;
  if (!anyLowExpIn(src, n16)) {
    for (; i < n16; i += 16) {
      const s = scaled ? f32x4.splat(load<f32>(scales + (<usize>(i >> 7) << 2))) : f32x4.splat(1);
      store16(v128.load(src + <usize>i), dst + (<usize>i << 2), s, scaled, false);
    }
  }
  for (; i < n16; i += 16) { // rare in practice (|v| < 2^-6 of the scale): per group, the select-based decode where needed
    const b = v128.load(src + <usize>i);
    const s = scaled ? f32x4.splat(load<f32>(scales + (<usize>(i >> 7) << 2))) : f32x4.splat(1);
    if (anyLowExp(b)) store16(b, dst + (<usize>i << 2), s, scaled, true);
    else store16(b, dst + (<usize>i << 2), s, scaled, false);
  }
  for (; i < n; i++) {
    const v = scalarE4m3(load<u8>(src + <usize>i));
    store<f32>(dst + (<usize>i << 2), scaled ? v * load<f32>(scales + (<usize>(i >> 7) << 2)) : v);
  }
}

/** Decodes n e4m3 codes to f32, each group of 128 multiplied by its scale (scales null → unscaled). */
export function decode_fp8(src: usize, dst: usize, n: i32, scales: usize): void {
  decodeCodes(src, dst, n, scales);
}


// ---- exp on four lanes ---------------------------------------------------------------------------
// Range reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two so n·ln2 is exact), a degree-7
// polynomial for e^r (Cephes expf's coefficients: ≤ 2 ulp), and 2^n built in the exponent field.
// Inputs are clamped to [-87.3, 88.7], so the result never overflows to a denormal or inf: exp of
// a very negative number is ~1e-38 rather than 0, which no sum or product here can tell apart.

@inline export function expv(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.splat(-87.3), f32x4.pmin(f32x4.splat(88.7), x));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504)));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2);
}
