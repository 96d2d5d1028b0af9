import { decode_fp8, expv, fma, hsum } from './common';

// ---- tiled absorbed attention with an online softmax ("flash decoding") ------------------------
// One query, every head, over cache rows [i0,i1) of one thread: the rows are decoded a tile at a time
// into this thread's scratch (FP8 codes are read once, no fp32 copy of the whole cache), every head
// scores the tile while it is in cache, and each head keeps a running max m, sum z and unnormalised
// output acc. A second kernel merges the threads' parts. Heads go in blocks of four (each tile row
// load serves four heads) and rows two at a time (each query load serves two rows).

// A key row is its latent and its RoPE key side by side (D = R+P floats), and so is a head's query
// [H,D] (the backend writes it so), so one loop scores both parts. Sizes the backend allocates
// (src/kernels/wasm/backend.ts, FLASH_TILE): one thread's state is Hp·(R+2) floats — acc [Hp,R], m [Hp],
// z [Hp], Hp = H rounded up to four — and its tile scratch TILE·(R+P+4) floats — rows [TILE,D], scores [4,TILE].

/** Rows decoded per tile (in L2 for R = 512). */
const TILE: i32 = 32;

/** Heads rounded up to a whole block of four (the state keeps dummy heads past H). */
@inline function headsPadded(H: i32): i32 { return (H + 3) & ~3; }

/**
 * Partial attention of rows [i0,i1) (row i is cache row sel[i], or i when sel is 0) into the state at
 * `st`: q [H, R+P]; latents FP8 (codes + per-128 scales) or fp32, RoPE keys fp32. R, P multiples of 4
 * (R of 128 for FP8).
 */
export function flash_part(q: usize, H: i32, R: i32, P: i32, scale: f32, fp8: i32, codes: usize, scales: usize,
  f32src: usize, peSrc: usize, sel: usize, i0: i32, i1: i32, st: usize, tile: usize): void {
  const Hp = headsPadded(H);
  const D = R + P;
  const rb = <usize>R << 2, pb = <usize>P << 2, db = <usize>D << 2, g = R >> 7;
  const ms = st + <usize>Hp * rb, zs = ms + (<usize>Hp << 2);
  memory.fill(st, 0, <usize>Hp * rb);
  for (let h = 0; h < Hp; h++) { store<f32>(ms + (<usize>h << 2), -Infinity); store<f32>(zs + (<usize>h << 2), 0); }
  const rows = tile, s = rows + <usize>TILE * db;
  const sb: usize = <usize>TILE << 2;
  for (let t = i0; t < i1; t += TILE) {
    const n = min(TILE, i1 - t);
    for (let j = 0; j < n; j++) {
      const r: usize = sel ? <usize>load<i32>(sel + (<usize>(t + j) << 2)) : <usize>(t + j);
      const row = rows + <usize>j * db;
      if (fp8) decode_fp8(codes + r * <usize>R, row, R, scales + ((r * <usize>g) << 2));
      else memory.copy(row, f32src + r * rb, rb);
      memory.copy(row + rb, peSrc + r * pb, pb);
    }
    for (let h = 0; h < Hp; h += 4) {
      // dummy heads past H repeat the last real head's query; their state is never read
      const q0 = q + <usize>min(h, H - 1) * db, q1 = q + <usize>min(h + 1, H - 1) * db;
      const q2 = q + <usize>min(h + 2, H - 1) * db, q3 = q + <usize>min(h + 3, H - 1) * db;
      scoreTile(q0, q1, q2, q3, rows, n, D, scale, s);
      // online softmax: rescale what the heads have so far when their max grows, then exponentiate
      for (let k = 0; k < 4; k++) {
        const sk = s + <usize>k * sb;
        let mt: f32 = -Infinity;
        for (let j = 0; j < n; j++) mt = max(mt, load<f32>(sk + (<usize>j << 2)));
        const mp = ms + (<usize>(h + k) << 2), zp = zs + (<usize>(h + k) << 2);
        const mOld = load<f32>(mp);
        const m = max(mOld, mt);
        let z = load<f32>(zp);
        if (m > mOld) {
          const f = Mathf.exp(mOld - m);
          z *= f;
          const a = st + <usize>(h + k) * rb, fv = f32x4.splat(f);
          for (let c = 0; c < R; c += 4) v128.store(a + (<usize>c << 2), f32x4.mul(v128.load(a + (<usize>c << 2)), fv));
          store<f32>(mp, m);
        }
        const mv = f32x4.splat(m);
        let zv = f32x4.splat(0);
        let j = 0;
        for (; j + 4 <= n; j += 4) {
          const e = expv(f32x4.sub(v128.load(sk + (<usize>j << 2)), mv));
          v128.store(sk + (<usize>j << 2), e);
          zv = f32x4.add(zv, e);
        }
        z += hsum(zv);
        for (; j < n; j++) {
          const e = Mathf.exp(load<f32>(sk + (<usize>j << 2)) - m);
          store<f32>(sk + (<usize>j << 2), e);
          z += e;
        }
        store<f32>(zp, z);
      }
      accumulate(st + <usize>h * rb, rows, n, R, D, s);
    }
  }
}

/** Scores of four heads (queries [D] each) against the tile's n rows [D] into s[k·TILE + j] (already scaled). */
@inline function scoreTile(q0: usize, q1: usize, q2: usize, q3: usize, rows: usize, n: i32, D: i32, scale: f32, s: usize): void {
  const db = <usize>D << 2, sb: usize = <usize>TILE << 2;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const la = rows + <usize>i * db, lb = la + db;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (let c = 0; c < D; c += 4) {
      const o = <usize>c << 2;
      const x = v128.load(la + o), y = v128.load(lb + o);
      let q = v128.load(q0 + o); a0 = fma(q, x, a0); b0 = fma(q, y, b0);
      q = v128.load(q1 + o); a1 = fma(q, x, a1); b1 = fma(q, y, b1);
      q = v128.load(q2 + o); a2 = fma(q, x, a2); b2 = fma(q, y, b2);
      q = v128.load(q3 + o); a3 = fma(q, x, a3); b3 = fma(q, y, b3);
    }
    const si = s + (<usize>i << 2);
    store<f32>(si, hsum(a0) * scale); store<f32>(si + sb, hsum(a1) * scale);
    store<f32>(si + 2 * sb, hsum(a2) * scale); store<f32>(si + 3 * sb, hsum(a3) * scale);
    store<f32>(si, hsum(b0) * scale, 4); store<f32>(si + sb, hsum(b1) * scale, 4);
    store<f32>(si + 2 * sb, hsum(b2) * scale, 4); store<f32>(si + 3 * sb, hsum(b3) * scale, 4);
  }
  if (i < n) {
    const li = rows + <usize>i * db;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let c = 0; c < D; c += 4) {
      const o = <usize>c << 2;
      const l = v128.load(li + o);
      a0 = fma(v128.load(q0 + o), l, a0); a1 = fma(v128.load(q1 + o), l, a1);
      a2 = fma(v128.load(q2 + o), l, a2); a3 = fma(v128.load(q3 + o), l, a3);
    }
    const si = s + (<usize>i << 2);
    store<f32>(si, hsum(a0) * scale); store<f32>(si + sb, hsum(a1) * scale);
    store<f32>(si + 2 * sb, hsum(a2) * scale); store<f32>(si + 3 * sb, hsum(a3) * scale);
  }
}

/** acc[k] += Σ_j p[k,j]·latent_j (the first R floats of each row) for the block's four heads (acc rows R apart), two rows per pass. */
@inline function accumulate(acc: usize, lat: usize, n: i32, R: i32, D: i32, s: usize): void {
  const rb = <usize>R << 2, db = <usize>D << 2, sb: usize = <usize>TILE << 2;
  const o0 = acc, o1 = o0 + rb, o2 = o1 + rb, o3 = o2 + rb;
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const si = s + (<usize>j << 2);
    const w0 = f32x4.splat(load<f32>(si)), w1 = f32x4.splat(load<f32>(si + sb));
    const w2 = f32x4.splat(load<f32>(si + 2 * sb)), w3 = f32x4.splat(load<f32>(si + 3 * sb));
    const x0 = f32x4.splat(load<f32>(si, 4)), x1 = f32x4.splat(load<f32>(si + sb, 4));
    const x2 = f32x4.splat(load<f32>(si + 2 * sb, 4)), x3 = f32x4.splat(load<f32>(si + 3 * sb, 4));
    const la = lat + <usize>j * db, lb = la + db;
    for (let c = 0; c < R; c += 4) {
      const o = <usize>c << 2;
      const x = v128.load(la + o), y = v128.load(lb + o);
      v128.store(o0 + o, fma(x0, y, fma(w0, x, v128.load(o0 + o))));
      v128.store(o1 + o, fma(x1, y, fma(w1, x, v128.load(o1 + o))));
      v128.store(o2 + o, fma(x2, y, fma(w2, x, v128.load(o2 + o))));
      v128.store(o3 + o, fma(x3, y, fma(w3, x, v128.load(o3 + o))));
    }
  }
  if (j < n) {
    const si = s + (<usize>j << 2);
    const w0 = f32x4.splat(load<f32>(si)), w1 = f32x4.splat(load<f32>(si + sb));
    const w2 = f32x4.splat(load<f32>(si + 2 * sb)), w3 = f32x4.splat(load<f32>(si + 3 * sb));
    const li = lat + <usize>j * db;
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

/**
 * out[h] = Σ_p e^{m_p − M}·acc_p[h] / Σ_p e^{m_p − M}·z_p over the `parts` states (stride floats apart),
 * for heads [h0,h1). A part that saw no rows has m = −∞ and weighs nothing.
 */
export function flash_merge(st: usize, stride: i32, parts: i32, H: i32, R: i32, out: usize, h0: i32, h1: i32): void {
  const Hp = headsPadded(H);
  const rb = <usize>R << 2, sbytes = <usize>stride << 2;
  const mOff = <usize>Hp * rb, zOff = mOff + (<usize>Hp << 2);
  for (let h = h0; h < h1; h++) {
    const hm = <usize>h << 2;
    let M: f32 = -Infinity;
    for (let p = 0; p < parts; p++) M = max(M, load<f32>(st + <usize>p * sbytes + mOff + hm));
    let Z: f32 = 0;
    for (let p = 0; p < parts; p++) {
      const b = st + <usize>p * sbytes;
      Z += Mathf.exp(load<f32>(b + mOff + hm) - M) * load<f32>(b + zOff + hm);
    }
    const o = out + <usize>h * rb;
    memory.fill(o, 0, rb);
    for (let p = 0; p < parts; p++) {
      const b = st + <usize>p * sbytes;
      const m = load<f32>(b + mOff + hm);
      if (m == -Infinity) continue;
      const f = f32x4.splat(Mathf.exp(m - M) / Z);
      const a = b + <usize>h * rb;
      for (let c = 0; c < R; c += 4) v128.store(o + (<usize>c << 2), fma(v128.load(a + (<usize>c << 2)), f, v128.load(o + (<usize>c << 2))));
    }
  }
}
