// The weight layout the kernels read (assembly/gemv.ts, assembly/q8.ts): tiles of four rows interleaved by
// 16-byte blocks — row n's block b at ⌊n/4⌋·Kb·64 + b·64 + (n mod 4)·16 — so a GEMV streams one pointer per
// tile. q8 interleaves 32-code blocks (128 bytes per tile-block) and keeps the four rows' scales side by side.
// Weights are copied into this layout at load; dequantize reads them back through it.

/**
 * Copies a row-major [N, rowBytes] weight into the tiled layout of assembly/gemv.ts at dst[ptr, ptr+bytes):
 * row n's 16-byte block b goes to ⌊n/4⌋·Kb·64 + b·64 + (n mod 4)·16 (Kb = ⌈rowBytes/16⌉); padding is zero.
 */
export function tileRows(src: Uint8Array, N: number, rowBytes: number, dst: Uint8Array, ptr: number, bytes: number): void {
  const Kb = Math.ceil(rowBytes / 16);
  const full = rowBytes >> 4;
  const tileAt = (n: number, b: number) => ptr + (n >> 2) * Kb * 64 + b * 64 + (n & 3) * 16;
  dst.fill(0, ptr, ptr + bytes);
  const words = (src.byteOffset & 3) === 0 && (ptr & 3) === 0 && (rowBytes & 3) === 0;
  const s32 = words ? new Uint32Array(src.buffer, src.byteOffset, (N * rowBytes) >> 2) : null;
  const d32 = words ? new Uint32Array(dst.buffer, ptr, bytes >> 2) : null;
  for (let n = 0; n < N; n++) {
    let b = 0;
    if (s32 && d32) {
      // whole 16-byte blocks as four 32-bit words (every row starts 4-byte aligned)
      for (let si = (n * rowBytes) >> 2, di = (tileAt(n, 0) - ptr) >> 2; b < full; b++, si += 4, di += 16) {
        d32[di] = s32[si]!; d32[di + 1] = s32[si + 1]!; d32[di + 2] = s32[si + 2]!; d32[di + 3] = s32[si + 3]!;
      }
    }
    for (; b < Kb; b++) {
      const s0 = n * rowBytes + b * 16;
      dst.set(src.subarray(s0, Math.min(s0 + 16, (n + 1) * rowBytes)), tileAt(n, b));
    }
  }
}

/** Row-major bytes [N, rowBytes] of a tiled weight at mem[ptr…] (the inverse of tileRows). */
export function untileRows(mem: Uint8Array, ptr: number, N: number, rowBytes: number): Uint8Array {
  const Kb = Math.ceil(rowBytes / 16);
  const rows = new Uint8Array(N * rowBytes);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < Kb; b++) {
      const src = ptr + (n >> 2) * Kb * 64 + b * 64 + (n & 3) * 16;
      rows.set(mem.subarray(src, src + Math.min(16, rowBytes - b * 16)), n * rowBytes + b * 16);
    }
  }
  return rows;
}

/** fp32 [N, K] of a tiled q8 weight: row n's block b at (n>>2)·4·Kp + b·128 + (n&3)·32, its scale at ((n>>2)·4·nb + b·4 + (n&3))·4. */
export function untileQ8(u8: Uint8Array, f32: Float32Array, ptr: number, scalePtr: number, N: number, K: number, Kp: number): Float32Array {
  const nb = Kp / 32;
  const out = new Float32Array(N * K);
  const q = new Int8Array(u8.buffer, ptr, Math.ceil(N / 4) * 4 * Kp);
  for (let n = 0; n < N; n++) {
    const row = (n >> 2) * 4 * Kp + (n & 3) * 32;
    const srow = (scalePtr >> 2) + (n >> 2) * 4 * nb + (n & 3);
    for (let k = 0; k < K; k++) out[n * K + k] = q[row + (k >> 5) * 128 + (k & 31)]! * f32[srow + (k >> 5) * 4]!;
  }
  return out;
}
