// Top-k by selection, not a full sort: the k-th largest value is found by quickselect on a copy, then
// indices are collected in one pass. Ties at the threshold go to the smaller indices, so the chosen
// set is exactly the portable backend's (sort by score desc, then index asc).

export function topkSelect(scores: Float32Array, n: number, k: number, out: Int32Array, work?: Float32Array): number {
  const kk = Math.min(k, n);
  if (kk <= 0) return 0;
  if (kk === n) {
    for (let i = 0; i < n; i++) out[i] = i;
    return n;
  }
  const a = work && work.length >= n ? work.subarray(0, n) : new Float32Array(n);
  a.set(scores.subarray(0, n));
  const thr = nthSmallest(a, n - kk);
  let c = 0;
  for (let i = 0; i < n; i++) if (scores[i]! > thr) out[c++] = i;
  for (let i = 0; i < n && c < kk; i++) if (scores[i] === thr) out[c++] = i;
  return c;
}

/** Rearranges a so that a[kth] is the value a sorted copy would hold there; returns it. */
function nthSmallest(a: Float32Array, kth: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    if (hi - lo < 16) {
      for (let i = lo + 1; i <= hi; i++) {
        const v = a[i]!;
        let j = i - 1;
        while (j >= lo && a[j]! > v) { a[j + 1] = a[j]!; j--; }
        a[j + 1] = v;
      }
      break;
    }
    const mid = (lo + hi) >> 1;
    // median of three as pivot keeps sorted and reversed inputs linear
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const p = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < p) i++;
      while (a[j]! > p) j--;
      if (i <= j) { swap(a, i, j); i++; j--; }
    }
    if (kth <= j) hi = j;
    else if (kth >= i) lo = i;
    else break;
  }
  return a[kth]!;
}

function swap(a: Float32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
