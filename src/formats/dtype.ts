// Scalar number formats of the checkpoints: bf16, f16 and FP8 e4m3fn (torch.float8_e4m3fn),
// plus the ue8m0 (power-of-two) activation quantisation the reference applies before FP8 GEMMs.

export type DType = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, F8_E4M3: 1, I8: 1, U8: 1, BOOL: 1,
};

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** Round-to-nearest-even to bfloat16 bits (NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** e4m3fn: bias 7, no infinities, NaN only at 0x7F/0xFF, max 448. */
export function e4m3ToF32(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 15;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * (m / 8) * 2 ** -6;
  return s * (1 + m / 8) * 2 ** (e - 7);
}

/** Decode table for all 256 e4m3 bytes. */
export const E4M3_TABLE: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = e4m3ToF32(i);
  return t;
})();

/** Encode an fp32 value to e4m3fn with round-to-nearest-even, saturating to ±448. */
export function f32ToE4m3(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(Math.fround(x));
  if (a >= 448) return sign | 0x7e;
  if (a < 2 ** -6) {
    // subnormal grid of 2^-9; a code of 8 is the smallest normal, which the bit layout gives for free
    const v = a * 512;
    let r = Math.round(v);
    if (r - v === 0.5 && (r & 1)) r -= 1;
    return sign | r;
  }
  f32[0] = a;
  const b = u32[0]!;
  // keep 3 mantissa bits with RNE; a carry rolls into the exponent
  const rounded = (b + 0x7ffff + ((b >>> 20) & 1)) >>> 20;
  const code = rounded - ((127 - 7) << 3);
  return sign | Math.min(code, 0x7e);
}

/** The ue8m0 scale of the reference's act_quant: 2^ceil(log2(max(amax,1e-4)/448)), exact from fp32 bits. */
export function ue8m0Scale(amax: number): number {
  const v = Math.fround(Math.max(amax, 1e-4) * Math.fround(1 / 448));
  f32[0] = v;
  const b = u32[0]!;
  const k = ((b >>> 23) & 0xff) - 127 + ((b & 0x7fffff) !== 0 ? 1 : 0);
  return 2 ** k;
}

/**
 * act_quant(x, 128, "ue8m0") in place on `x` (length multiple of `group`): every group is replaced by its
 * FP8 round trip q·s. Returns nothing; `scales` (length x.length/group) receives s when given.
 */
export function fp8RoundTripInPlace(x: Float32Array, group = 128, scales?: Float32Array, codes?: Uint8Array): void {
  const n = x.length;
  for (let g0 = 0, gi = 0; g0 < n; g0 += group, gi++) {
    let amax = 0;
    for (let i = g0; i < g0 + group; i++) { const a = Math.abs(x[i]!); if (a > amax) amax = a; }
    const s = ue8m0Scale(amax);
    const inv = 1 / s; // exact: s is a power of two
    if (scales) scales[gi] = s;
    for (let i = g0; i < g0 + group; i++) {
      let v = x[i]! * inv;
      if (v > 448) v = 448; else if (v < -448) v = -448;
      const c = f32ToE4m3(v);
      if (codes) codes[i] = c;
      x[i] = E4M3_TABLE[c]! * s;
    }
  }
}

/** Decodes `count` elements of a stored little-endian tensor starting at element `start` into `out` (fp32). */
export function decodeInto(dtype: DType, bytes: Uint8Array, start: number, count: number, out: Float32Array, outOffset = 0): void {
  switch (dtype) {
    case 'F32': {
      const src = new Float32Array(bytes.buffer, bytes.byteOffset + start * 4, count);
      out.set(src, outOffset);
      return;
    }
    case 'BF16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset + start * 2, count);
      const o32 = new Uint32Array(out.buffer, out.byteOffset + outOffset * 4, count);
      for (let i = 0; i < count; i++) o32[i] = src[i]! << 16;
      return;
    }
    case 'F16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset + start * 2, count);
      for (let i = 0; i < count; i++) out[outOffset + i] = f16ToF32(src[i]!);
      return;
    }
    case 'F8_E4M3': {
      for (let i = 0; i < count; i++) out[outOffset + i] = E4M3_TABLE[bytes[start + i]!]!;
      return;
    }
    case 'F64': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      for (let i = 0; i < count; i++) out[outOffset + i] = dv.getFloat64((start + i) * 8, true);
      return;
    }
    default:
      throw new Error(`cannot decode dtype ${dtype} as floating point`);
  }
}

/** The whole tensor as fp32 (for small tensors: norms, biases, scales). */
export function toFloat32(t: { dtype: DType; bytes: Uint8Array }): Float32Array {
  const n = t.bytes.length / DTYPE_BYTES[t.dtype];
  const out = new Float32Array(n);
  decodeInto(t.dtype, t.bytes, 0, n, out);
  return out;
}

/** Block-quantises a [N,K] fp32 weight to e4m3 codes + fp32 scale_inv per 128×128 block (scale = amax/448). */
export function quantizeWeightFp8(w: Float32Array, N: number, K: number, pow2Scales = true): { codes: Uint8Array; scales: Float32Array } {
  const nb = Math.ceil(N / 128);
  const kb = Math.ceil(K / 128);
  const codes = new Uint8Array(N * K);
  const scales = new Float32Array(nb * kb);
  for (let bi = 0; bi < nb; bi++) {
    for (let bj = 0; bj < kb; bj++) {
      let amax = 0;
      for (let i = bi * 128; i < Math.min(N, (bi + 1) * 128); i++) {
        for (let j = bj * 128; j < Math.min(K, (bj + 1) * 128); j++) amax = Math.max(amax, Math.abs(w[i * K + j]!));
      }
      const s = pow2Scales ? ue8m0Scale(amax) : Math.max(amax, 1e-12) / 448;
      scales[bi * kb + bj] = s;
      for (let i = bi * 128; i < Math.min(N, (bi + 1) * 128); i++) {
        for (let j = bj * 128; j < Math.min(K, (bj + 1) * 128); j++) codes[i * K + j] = f32ToE4m3(Math.max(-448, Math.min(448, w[i * K + j]! / s)));
      }
    }
  }
  return { codes, scales };
}
