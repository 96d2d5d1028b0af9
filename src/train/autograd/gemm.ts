// The one matrix-multiply kernel every training op goes through, so a faster backend (SIMD/WASM,
// threads, GPU) can replace it in one place with `setGemm`.
//   C[M,N] (+)= op(A)[M,K] · op(B)[K,N]
// op(A) = A [M,K] or, with transA, Aᵀ where A is stored [K,M]; op(B) = B [K,N] or, with transB, Bᵀ
// where B is stored [N,K]. Row-major, tightly packed. `accumulate` adds into C instead of overwriting.

export type GemmFn = (
  a: Float32Array, b: Float32Array, c: Float32Array,
  M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean,
) => void;

/**
 * C[M,N] += A[M,K] · B[N,K]ᵀ — every case reduces to this row-dot-product form (operands transposed
 * into scratch first: O(M·K + N·K) copies against O(M·N·K) work), so only one micro-kernel must be fast.
 */
function gemmNT(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number): void {
  // Column blocks of B small enough to stay in cache while every row pair of A passes over them.
  const JB = Math.max(4, Math.min(N, (Math.floor(16384 / Math.max(K, 1)) >> 2) << 2));
  for (let jb = 0; jb < N; jb += JB) ntBlock(a, b, c, M, N, K, jb, Math.min(N, jb + JB));
}

/** Columns [j0, j1) of C; a 2×4 block of outputs per pass reuses every load of A and B. */
function ntBlock(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, j0: number, j1: number): void {
  let i = 0;
  for (; i + 1 < M; i += 2) {
    const a0o = i * K, a1o = a0o + K;
    const c0 = i * N, c1 = c0 + N;
    let j = j0;
    for (; j + 3 < j1; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0o + k]!, x1 = a[a1o + k]!;
        const w0 = b[b0 + k]!, w1 = b[b1 + k]!, w2 = b[b2 + k]!, w3 = b[b3 + k]!;
        s00 += x0 * w0; s01 += x0 * w1; s02 += x0 * w2; s03 += x0 * w3;
        s10 += x1 * w0; s11 += x1 * w1; s12 += x1 * w2; s13 += x1 * w3;
      }
      c[c0 + j] += s00; c[c0 + j + 1] += s01; c[c0 + j + 2] += s02; c[c0 + j + 3] += s03;
      c[c1 + j] += s10; c[c1 + j + 1] += s11; c[c1 + j + 2] += s12; c[c1 + j + 3] += s13;
    }
    for (; j < j1; j++) {
      const bo = j * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) { const w = b[bo + k]!; s0 += a[a0o + k]! * w; s1 += a[a1o + k]! * w; }
      c[c0 + j] += s0;
      c[c1 + j] += s1;
    }
  }
  for (; i < M; i++) {
    const ao = i * K;
    const co = i * N;
    for (let j = j0; j < j1; j++) {
      const bo = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ao + k]! * b[bo + k]!;
      c[co + j] += s;
    }
  }
}

/** dst[C,R] = src[R,C]ᵀ */
function transpose(src: Float32Array, R: number, C: number, dst: Float32Array): Float32Array {
  for (let r = 0; r < R; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) dst[c * R + r] = src[o + c]!;
  }
  return dst;
}

let scratchA = new Float32Array(0);
let scratchB = new Float32Array(0);

/** Plain-loop portable kernel. */
export const gemmPortable: GemmFn = (a, b, c, M, N, K, transA, transB, accumulate) => {
  if (!accumulate) c.fill(0, 0, M * N);
  let A = a;
  let B = b;
  if (transA) {
    if (scratchA.length < M * K) scratchA = new Float32Array(M * K);
    A = transpose(a, K, M, scratchA);
  }
  if (!transB) {
    if (scratchB.length < N * K) scratchB = new Float32Array(N * K);
    B = transpose(b, K, N, scratchB);
  }
  gemmNT(A, B, c, M, N, K);
};

let impl: GemmFn = gemmPortable;

export function gemm(
  a: Float32Array, b: Float32Array, c: Float32Array,
  M: number, N: number, K: number,
  transA = false, transB = false, accumulate = false,
): void {
  impl(a, b, c, M, N, K, transA, transB, accumulate);
}

/** Installs another kernel (must satisfy the same contract; test it against gemmPortable). */
export function setGemm(fn: GemmFn): void {
  impl = fn;
}
