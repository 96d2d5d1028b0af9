// Portable TypeScript kernels: plain loops, fp32 throughout, written to be read. Every fast backend is
// tested against these.
import { decodeInto, E4M3_TABLE, fp8RoundTripInPlace, toFloat32 } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';
import { type Backend, type LayerCacheView, type Linear, type LinearOptions, type MatmulItem, readLatent } from './backend.js';

export { readLatent };

export class PortableLinear implements Linear {
  constructor(
    readonly name: string,
    readonly weight: StoredTensor,
    /** block scales [ceil(out/128), ceil(in/128)] for FP8 weights */
    readonly scales: Float32Array | null,
    readonly actQuant: boolean,
  ) {}
  get outDim(): number { return this.weight.shape[0]!; }
  get inDim(): number { return this.weight.shape[1]!; }
}

const BLOCK = 128;

/** Decodes row n of a prepared linear into `row` (fp32, block scales applied). */
export function decodeLinearRow(w: PortableLinear, n: number, row: Float32Array): void {
  const K = w.inDim;
  decodeInto(w.weight.dtype, w.weight.bytes, n * K, K, row);
  if (w.scales) {
    const kb = Math.ceil(K / BLOCK);
    const srow = Math.floor(n / BLOCK) * kb;
    for (let k = 0; k < K; k++) row[k]! *= w.scales[srow + Math.floor(k / BLOCK)]!;
  }
}

export function checkLinear(name: string, w: StoredTensor, scaleInv?: StoredTensor): Float32Array | null {
  if (w.shape.length !== 2) throw new Error(`${name}: expected a 2-D weight, got shape ${JSON.stringify(w.shape)}`);
  if (w.dtype === 'F8_E4M3') {
    if (!scaleInv) throw new Error(`${name}: FP8 weight without its weight_scale_inv`);
    const [N, K] = w.shape as [number, number];
    const want = [Math.ceil(N / BLOCK), Math.ceil(K / BLOCK)];
    if (scaleInv.shape.length !== 2 || scaleInv.shape[0] !== want[0] || scaleInv.shape[1] !== want[1]) {
      throw new Error(`${name}: weight_scale_inv has shape ${JSON.stringify(scaleInv.shape)}, expected ${JSON.stringify(want)} for weight ${JSON.stringify(w.shape)}`);
    }
    return toFloat32(scaleInv);
  }
  if (!['F32', 'BF16', 'F16'].includes(w.dtype)) throw new Error(`${name}: unsupported weight dtype ${w.dtype}`);
  return null;
}

/** Rows per group of a grouped matmul (matmulGrouped's contract), after checking the shapes. */
export function groupRows(w: Linear, x: Float32Array, G: number): number {
  const Nh = w.outDim / G;
  if (!Number.isInteger(Nh) || Nh < 1) throw new Error(`${w.name}: ${w.outDim} rows do not split into ${G} groups`);
  if (x.length < G * w.inDim) throw new Error(`${w.name}: input has ${x.length} values, need ${G}×${w.inDim}`);
  return Nh;
}

export class PortableBackend implements Backend {
  readonly name = 'portable';

  linear(name: string, w: StoredTensor, scaleInv?: StoredTensor, actQuant = false, _opts?: LinearOptions): Linear {
    const scales = checkLinear(name, w, scaleInv);
    return new PortableLinear(name, w, scales, actQuant && w.dtype === 'F8_E4M3');
  }

  matmul(x: Float32Array, M: number, lin: Linear, y?: Float32Array): Float32Array {
    const w = lin as PortableLinear;
    const N = w.outDim;
    const K = w.inDim;
    if (x.length < M * K) throw new Error(`${w.name}: input has ${x.length} values, need ${M}×${K}`);
    const out = y ?? new Float32Array(M * N);
    let xs = x;
    if (w.actQuant) {
      xs = x.slice(0, M * K);
      fp8RoundTripInPlace(xs, BLOCK);
    }
    const row = new Float32Array(K);
    for (let n = 0; n < N; n++) {
      decodeLinearRow(w, n, row);
      for (let m = 0; m < M; m++) {
        let acc = 0;
        const xo = m * K;
        for (let k = 0; k < K; k++) acc += xs[xo + k]! * row[k]!;
        out[m * N + n] = acc;
      }
    }
    return out;
  }

  matmulList(items: readonly MatmulItem[]): void {
    for (const it of items) this.matmul(it.x, 1, it.w, it.y);
  }

  matmulGrouped(x: Float32Array, G: number, lin: Linear, y?: Float32Array): Float32Array {
    const w = lin as PortableLinear;
    const N = w.outDim;
    const K = w.inDim;
    const Nh = groupRows(w, x, G);
    const out = y ?? new Float32Array(N);
    let xs = x;
    if (w.actQuant) {
      xs = x.slice(0, G * K);
      fp8RoundTripInPlace(xs, BLOCK);
    }
    const row = new Float32Array(K);
    for (let n = 0; n < N; n++) {
      decodeLinearRow(w, n, row);
      const xo = Math.floor(n / Nh) * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += xs[xo + k]! * row[k]!;
      out[n] = acc;
    }
    return out;
  }

  dequantize(lin: Linear): Float32Array {
    const w = lin as PortableLinear;
    const out = new Float32Array(w.outDim * w.inDim);
    for (let n = 0; n < w.outDim; n++) decodeLinearRow(w, n, out.subarray(n * w.inDim, (n + 1) * w.inDim));
    return out;
  }

  rmsNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, eps: number, y?: Float32Array): Float32Array {
    const out = y ?? new Float32Array(M * dim);
    for (let m = 0; m < M; m++) {
      const o = m * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
      const r = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = gamma[i]! * (x[o + i]! * r);
    }
    return out;
  }

  layerNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, beta: Float32Array, eps: number, y?: Float32Array): Float32Array {
    const out = y ?? new Float32Array(M * dim);
    for (let m = 0; m < M; m++) {
      const o = m * dim;
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += x[o + i]!;
      mean /= dim;
      let v = 0;
      for (let i = 0; i < dim; i++) v += (x[o + i]! - mean) ** 2;
      const r = 1 / Math.sqrt(v / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * r * gamma[i]! + beta[i]!;
    }
    return out;
  }

  swiglu(gate: Float32Array, up: Float32Array, n: number): Float32Array {
    for (let i = 0; i < n; i++) {
      const a = gate[i]!;
      gate[i] = (a / (1 + Math.exp(-a))) * up[i]!;
    }
    return gate;
  }

  indexerScores(q: Float32Array, w: Float32Array, H: number, cache: LayerCacheView, T: number, out: Float32Array, rows = 1): void {
    const D = cache.indexDim;
    const k = new Float32Array(D);
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < D; d++) k[d] = E4M3_TABLE[cache.indexCodes[t * D + d]!]!;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let h = 0; h < H; h++) {
          const qo = (r * H + h) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d]! * k[d]!;
          if (dot > 0) s += w[r * H + h]! * dot;
        }
        out[r * T + t] = s * cache.indexScales[t]!;
      }
    }
  }

  topk(scores: Float32Array, n: number, k: number, out: Int32Array): number {
    const kk = Math.min(k, n);
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => scores[b]! - scores[a]! || a - b);
    for (let i = 0; i < kk; i++) out[i] = order[i]!;
    return kk;
  }

  latentAttention(qLat: Float32Array, qPe: Float32Array, H: number, cache: LayerCacheView, T: number,
    sel: Int32Array | null, selCount: number, scale: number, out: Float32Array): void {
    const R = cache.rank;
    const P = cache.ropeDim;
    const n = sel ? selCount : T;
    const lat = new Float32Array(n * R);
    for (let i = 0; i < n; i++) readLatent(cache, sel ? sel[i]! : i, lat.subarray(i * R, (i + 1) * R));
    const s = new Float32Array(n);
    for (let h = 0; h < H; h++) {
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const t = sel ? sel[i]! : i;
        let dot = 0;
        for (let c = 0; c < R; c++) dot += qLat[h * R + c]! * lat[i * R + c]!;
        let dpe = 0;
        for (let c = 0; c < P; c++) dpe += qPe[h * P + c]! * cache.pe[t * P + c]!;
        s[i] = (dot + dpe) * scale;
        if (s[i]! > max) max = s[i]!;
      }
      let sum = 0;
      for (let i = 0; i < n; i++) { s[i] = Math.exp(s[i]! - max); sum += s[i]!; }
      const o = out.subarray(h * R, (h + 1) * R);
      o.fill(0);
      for (let i = 0; i < n; i++) {
        const p = s[i]! / sum;
        for (let c = 0; c < R; c++) o[c]! += p * lat[i * R + c]!;
      }
    }
  }

  mhaAttention(q: Float32Array, k: Float32Array, v: Float32Array, S: number, T: number, P: number, H: number,
    dqk: number, dv: number, scale: number, sel: (Int32Array | null)[] | null, out: Float32Array): void {
    const s = new Float32Array(T);
    const allowed = new Uint8Array(T);
    for (let i = 0; i < S; i++) {
      const last = P + i; // causal: keys 0..last
      allowed.fill(0);
      const si = sel?.[i] ?? null;
      if (si) for (const t of si) { if (t <= last) allowed[t] = 1; }
      else allowed.fill(1, 0, last + 1);
      for (let h = 0; h < H; h++) {
        let max = -Infinity;
        const qo = (i * H + h) * dqk;
        for (let t = 0; t <= last; t++) {
          if (!allowed[t]) continue;
          const ko = (t * H + h) * dqk;
          let dot = 0;
          for (let d = 0; d < dqk; d++) dot += q[qo + d]! * k[ko + d]!;
          s[t] = dot * scale;
          if (s[t]! > max) max = s[t]!;
        }
        let sum = 0;
        for (let t = 0; t <= last; t++) {
          if (!allowed[t]) continue;
          s[t] = Math.exp(s[t]! - max);
          sum += s[t]!;
        }
        const oo = (i * H + h) * dv;
        for (let d = 0; d < dv; d++) out[oo + d] = 0;
        for (let t = 0; t <= last; t++) {
          if (!allowed[t]) continue;
          const p = s[t]! / sum;
          const vo = (t * H + h) * dv;
          for (let d = 0; d < dv; d++) out[oo + d]! += p * v[vo + d]!;
        }
      }
    }
  }
}
