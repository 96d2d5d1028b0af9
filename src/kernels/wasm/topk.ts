// Top-k by selection, not a full sort: a radix select on the scores' bits finds the k-th largest value
// in about two passes over n (a histogram of the top 11 bits, then only the candidates that share the
// threshold's bucket), then indices are collected. Ties at the threshold go to the smaller indices, so
// the chosen set is exactly the portable backend's (sort by score desc, then index asc).

const BITS = 11;
const BINS = 1 << BITS;

/** Workspace of one selector: reused across calls (no allocation per decode step once grown). */
export class TopkWork {
  keys = new Uint32Array(0);
  cand = new Int32Array(0);
  readonly hist = new Int32Array(BINS);
  /** int32 view of the whole buffer the scores live in (callers pass subarrays of one workspace buffer) */
  bits: Int32Array | null = null;
}

/**
 * Order-preserving u32 of an f32's bits (as int32): negative values have every bit flipped, the others
 * only the sign, without a branch on the sign (random signs would mispredict). −0 is folded onto +0 so
 * it ties with 0 like a comparison does (a branch that is almost never taken).
 */
function keyOf(bits: number): number {
  const u = (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
  return bits === -0x80000000 ? 0x80000000 : u;
}

export function topkSelect(scores: Float32Array, n: number, k: number, out: Int32Array, work = new TopkWork()): number {
  const kk = Math.min(k, n);
  if (kk <= 0) return 0;
  if (kk === n) {
    for (let i = 0; i < n; i++) out[i] = i;
    return n;
  }
  if (work.keys.length < n) { work.keys = new Uint32Array(n); work.cand = new Int32Array(n); }
  if (work.bits?.buffer !== scores.buffer) work.bits = new Int32Array(scores.buffer, 0, scores.buffer.byteLength >> 2);
  const bits = work.bits;
  const base = scores.byteOffset >> 2;
  const keys = work.keys, cand = work.cand, hist = work.hist;
  // pass 1: keys and a histogram of their top bits over all n
  hist.fill(0);
  for (let i = 0; i < n; i++) {
    const u = keyOf(bits[base + i]!);
    keys[i] = u;
    hist[u >>> (32 - BITS)]!++;
  }
  let need = kk;
  let bin = BINS - 1;
  while (hist[bin]! < need) need -= hist[bin--]!;
  // everything in a higher bucket is chosen; the threshold lies among this bucket's candidates
  let c = 0, nc = 0;
  for (let i = 0; i < n; i++) {
    const top = keys[i]! >>> (32 - BITS);
    if (top > bin) out[c++] = i;
    else if (top === bin) cand[nc++] = i;
  }
  // the rest of the bits, 11 then 10, over the candidates only
  let shift = 32 - BITS;
  while (shift > 0) {
    const w = Math.min(BITS, shift);
    shift -= w;
    const mask = (1 << w) - 1;
    hist.fill(0, 0, 1 << w);
    for (let j = 0; j < nc; j++) hist[(keys[cand[j]!]! >>> shift) & mask]!++;
    let b = mask;
    while (hist[b]! < need) need -= hist[b--]!;
    let m = 0;
    for (let j = 0; j < nc; j++) {
      const i = cand[j]!;
      const d = (keys[i]! >>> shift) & mask;
      if (d > b) out[c++] = i;
      else if (d === b) cand[m++] = i;
    }
    nc = m;
  }
  // cand now holds the keys equal to the threshold, in index order: the smallest `need` of them
  for (let j = 0; j < need; j++) out[c++] = cand[j]!;
  return c;
}
