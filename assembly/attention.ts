import { decode_fp8, fma, hsum } from './common';

// ---- attention-side kernels --------------------------------------------------------------------

/** [Σa0, Σa1, Σa2, Σa3]: four horizontal sums in one vector (six shuffles, three adds). */
@inline function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 2, 6), v128.shuffle<f32>(a0, a1, 1, 5, 3, 7));
  const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 2, 6), v128.shuffle<f32>(a2, a3, 1, 5, 3, 7));
  return f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
}

/**
 * Indexer scores of `rows` queries for tokens [t0,t1): out[r,t] = kScale[t]·Σ_h w[r,h]·ReLU(q_rh·e4m3(k_t)),
 * out rows T apart. D % 16 == 0. Four tokens are decoded into `kbuf` (4·D floats, per thread) once and
 * serve every query (a prefill chunk decodes each key once, not once per query). Two heads × four keys
 * per pass: each key load serves two heads and each query load four keys; the four keys' sums stay in
 * one vector (score, ReLU, head weight). A row's result does not depend on how many rows share the call.
 */
export function indexer_scores(q: usize, w: usize, rows: i32, H: i32, D: i32, codes: usize, ksc: usize, out: usize, T: i32,
  t0: i32, t1: i32, kbuf: usize): void {
  const db = <usize>D << 2;
  const qStride = <usize>H * db, wStride = <usize>H << 2, oStride = <usize>T << 2;
  const zero = f32x4.splat(0);
  for (let t = t0; t < t1; t += 4) {
    const nt = min(4, t1 - t);
    for (let j = 0; j < 4; j++) {
      const tt = j < nt ? t + j : t; // pad the last group with a repeat of its first token
      decode_fp8(codes + <usize>tt * <usize>D, kbuf + <usize>j * db, D, 0);
    }
    const k0 = kbuf, k1 = k0 + db, k2 = k1 + db, k3 = k2 + db;
    const kp = ksc + (<usize>t << 2);
    const ks = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(load<f32>(kp)),
      1, nt > 1 ? load<f32>(kp, 4) : 0), 2, nt > 2 ? load<f32>(kp, 8) : 0), 3, nt > 3 ? load<f32>(kp, 12) : 0);
    for (let r = 0; r < rows; r++) {
      const qr = q + <usize>r * qStride, wr = w + <usize>r * wStride;
      let sv = zero;
      let h = 0;
      for (; h + 2 <= H; h += 2) {
        const qa = qr + <usize>h * db, qb = qa + db;
        let a0 = zero, a1 = zero, a2 = zero, a3 = zero, b0 = zero, b1 = zero, b2 = zero, b3 = zero;
        for (let d = 0; d < D; d += 4) {
          const o = <usize>d << 2;
          const qv = v128.load(qa + o), qw = v128.load(qb + o);
          let x = v128.load(k0 + o); a0 = fma(qv, x, a0); b0 = fma(qw, x, b0);
          x = v128.load(k1 + o); a1 = fma(qv, x, a1); b1 = fma(qw, x, b1);
          x = v128.load(k2 + o); a2 = fma(qv, x, a2); b2 = fma(qw, x, b2);
          x = v128.load(k3 + o); a3 = fma(qv, x, a3); b3 = fma(qw, x, b3);
        }
        const wp = wr + (<usize>h << 2);
        sv = fma(f32x4.splat(load<f32>(wp)), f32x4.pmax(zero, hsum4(a0, a1, a2, a3)), sv);
        sv = fma(f32x4.splat(load<f32>(wp, 4)), f32x4.pmax(zero, hsum4(b0, b1, b2, b3)), sv);
      }
      if (h < H) {
        const qa = qr + <usize>h * db;
        let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        for (let d = 0; d < D; d += 4) {
          const o = <usize>d << 2;
          const qv = v128.load(qa + o);
          a0 = fma(qv, v128.load(k0 + o), a0); a1 = fma(qv, v128.load(k1 + o), a1);
          a2 = fma(qv, v128.load(k2 + o), a2); a3 = fma(qv, v128.load(k3 + o), a3);
        }
        sv = fma(f32x4.splat(load<f32>(wr + (<usize>h << 2))), f32x4.pmax(zero, hsum4(a0, a1, a2, a3)), sv);
      }
      sv = f32x4.mul(sv, ks);
      const op = out + <usize>r * oStride + (<usize>t << 2);
      if (nt == 4) { v128.store(op, sv); continue; }
      store<f32>(op, f32x4.extract_lane(sv, 0));
      if (nt > 1) store<f32>(op, f32x4.extract_lane(sv, 1), 4);
      if (nt > 2) store<f32>(op, f32x4.extract_lane(sv, 2), 8);
    }
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
    // two rows at a time: each query load serves two rows (8 independent accumulators, no register spills)
    let i = 0;
    for (; i + 2 <= n; i += 2) {
      const la = lat + <usize>i * rb, lb = la + rb, pa = pe + <usize>i * pb, pbb = pa + pb;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      for (let c = 0; c < R; c += 4) {
        const o = <usize>c << 2;
        const x = v128.load(la + o), y = v128.load(lb + o);
        let q = v128.load(q0 + o); a0 = fma(q, x, a0); b0 = fma(q, y, b0);
        q = v128.load(q1 + o); a1 = fma(q, x, a1); b1 = fma(q, y, b1);
        q = v128.load(q2 + o); a2 = fma(q, x, a2); b2 = fma(q, y, b2);
        q = v128.load(q3 + o); a3 = fma(q, x, a3); b3 = fma(q, y, b3);
      }
      for (let c = 0; c < P; c += 4) {
        const o = <usize>c << 2;
        const x = v128.load(pa + o), y = v128.load(pbb + o);
        let q = v128.load(p0 + o); a0 = fma(q, x, a0); b0 = fma(q, y, b0);
        q = v128.load(p1 + o); a1 = fma(q, x, a1); b1 = fma(q, y, b1);
        q = v128.load(p2 + o); a2 = fma(q, x, a2); b2 = fma(q, y, b2);
        q = v128.load(p3 + o); a3 = fma(q, x, a3); b3 = fma(q, y, b3);
      }
      const v0 = hsum(a0) * scale, v1 = hsum(a1) * scale, v2 = hsum(a2) * scale, v3 = hsum(a3) * scale;
      const u0 = hsum(b0) * scale, u1 = hsum(b1) * scale, u2 = hsum(b2) * scale, u3 = hsum(b3) * scale;
      const si = s + (<usize>i << 2);
      store<f32>(si, v0); store<f32>(si + nb, v1); store<f32>(si + 2 * nb, v2); store<f32>(si + 3 * nb, v3);
      store<f32>(si, u0, 4); store<f32>(si + nb, u1, 4); store<f32>(si + 2 * nb, u2, 4); store<f32>(si + 3 * nb, u3, 4);
      m0 = max(m0, max(v0, u0)); m1 = max(m1, max(v1, u1)); m2 = max(m2, max(v2, u2)); m3 = max(m3, max(v3, u3));
    }
    for (; i < n; i++) {
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
    // weighted sum of the rows, two rows per pass over each head's output row
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const si = s + (<usize>j << 2);
      const w0 = f32x4.mul(f32x4.splat(load<f32>(si)), i0), w1 = f32x4.mul(f32x4.splat(load<f32>(si + nb)), i1);
      const w2 = f32x4.mul(f32x4.splat(load<f32>(si + 2 * nb)), i2), w3 = f32x4.mul(f32x4.splat(load<f32>(si + 3 * nb)), i3);
      const x0 = f32x4.mul(f32x4.splat(load<f32>(si, 4)), i0), x1 = f32x4.mul(f32x4.splat(load<f32>(si + nb, 4)), i1);
      const x2 = f32x4.mul(f32x4.splat(load<f32>(si + 2 * nb, 4)), i2), x3 = f32x4.mul(f32x4.splat(load<f32>(si + 3 * nb, 4)), i3);
      const la = lat + <usize>j * rb, lb = la + rb;
      for (let c = 0; c < R; c += 4) {
        const o = <usize>c << 2;
        const x = v128.load(la + o), y = v128.load(lb + o);
        v128.store(o0 + o, fma(x0, y, fma(w0, x, v128.load(o0 + o))));
        v128.store(o1 + o, fma(x1, y, fma(w1, x, v128.load(o1 + o))));
        v128.store(o2 + o, fma(x2, y, fma(w2, x, v128.load(o2 + o))));
        v128.store(o3 + o, fma(x3, y, fma(w3, x, v128.load(o3 + o))));
      }
    }
    for (; j < n; j++) {
      const si = s + (<usize>j << 2);
      const w0 = f32x4.mul(f32x4.splat(load<f32>(si)), i0), w1 = f32x4.mul(f32x4.splat(load<f32>(si + nb)), i1);
      const w2 = f32x4.mul(f32x4.splat(load<f32>(si + 2 * nb)), i2), w3 = f32x4.mul(f32x4.splat(load<f32>(si + 3 * nb)), i3);
      const li = lat + <usize>j * rb;
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

