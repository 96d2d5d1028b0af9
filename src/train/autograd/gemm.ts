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

/** Plain-loop kernel; loop orders keep the innermost loop on contiguous memory for every case. */
export const gemmPortable: GemmFn = (a, b, c, M, N, K, transA, transB, accumulate) => {
  if (!accumulate) c.fill(0, 0, M * N);
  if (!transA && transB) {
    // x·Wᵀ: dot products of rows; 4 output columns at a time reuse each load of the A row.
    for (let i = 0; i < M; i++) {
      const ao = i * K;
      const co = i * N;
      let j = 0;
      for (; j + 3 < N; j += 4) {
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ao + k]!;
          s0 += av * b[b0 + k]!;
          s1 += av * b[b1 + k]!;
          s2 += av * b[b2 + k]!;
          s3 += av * b[b3 + k]!;
        }
        c[co + j] += s0;
        c[co + j + 1] += s1;
        c[co + j + 2] += s2;
        c[co + j + 3] += s3;
      }
      for (; j < N; j++) {
        const bo = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + k]! * b[bo + k]!;
        c[co + j] += s;
      }
    }
    return;
  }
  if (!transA && !transB) {
    // C[i,:] += A[i,k] · B[k,:]; four C rows per pass so each B row is read once per four rows.
    let i = 0;
    for (; i + 3 < M; i += 4) {
      const c0 = i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
      for (let k = 0; k < K; k++) {
        const a0 = a[i * K + k]!, a1 = a[(i + 1) * K + k]!, a2 = a[(i + 2) * K + k]!, a3 = a[(i + 3) * K + k]!;
        const bo = k * N;
        for (let j = 0; j < N; j++) {
          const bv = b[bo + j]!;
          c[c0 + j] += a0 * bv;
          c[c1 + j] += a1 * bv;
          c[c2 + j] += a2 * bv;
          c[c3 + j] += a3 * bv;
        }
      }
    }
    for (; i < M; i++) {
      const co = i * N;
      for (let k = 0; k < K; k++) {
        const av = a[i * K + k]!;
        const bo = k * N;
        for (let j = 0; j < N; j++) c[co + j] += av * b[bo + j]!;
      }
    }
    return;
  }
  if (transA && !transB) {
    // C[i,:] += A[k,i] · B[k,:] (weight gradients dYᵀ·X); four C rows per pass, as above.
    let i = 0;
    for (; i + 3 < M; i += 4) {
      const c0 = i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
      for (let k = 0; k < K; k++) {
        const ao = k * M + i;
        const a0 = a[ao]!, a1 = a[ao + 1]!, a2 = a[ao + 2]!, a3 = a[ao + 3]!;
        if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
        const bo = k * N;
        for (let j = 0; j < N; j++) {
          const bv = b[bo + j]!;
          c[c0 + j] += a0 * bv;
          c[c1 + j] += a1 * bv;
          c[c2 + j] += a2 * bv;
          c[c3 + j] += a3 * bv;
        }
      }
    }
    for (; i < M; i++) {
      const co = i * N;
      for (let k = 0; k < K; k++) {
        const av = a[k * M + i]!;
        if (av === 0) continue;
        const bo = k * N;
        for (let j = 0; j < N; j++) c[co + j] += av * b[bo + j]!;
      }
    }
    return;
  }
  // transA && transB: C[i,j] += Σ_k A[k,i] · B[j,k] — rare; straightforward loops.
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[k * M + i]! * b[j * K + k]!;
      c[i * N + j] += s;
    }
  }
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
