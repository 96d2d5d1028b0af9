import { decodeCodes, fma } from './common';

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
      decodeCodes(codes + <usize>tt * <usize>D, kbuf + <usize>j * db, D, 0); // unscaled: the key's scale goes on its score
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
