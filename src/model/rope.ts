// Rotary position embedding with YaRN frequency blending (spec §4). One table serves MLA (interleaved
// pairs) and the lightning indexer (half-split pairs); the pairing differs, the frequencies do not.
import type { ModelConfig } from './config.js';

const fr = Math.fround;

export function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * fp32 frequency per pair (length dim/2), YaRN-blended whenever the config asks for it — not gated on a
 * small cache length (pitfall 5) — and the YaRN attention factor on cos/sin (1 for every DeepSeek config).
 */
export function ropeFrequencies(dim: number, base: number, scaling: ModelConfig['ropeScaling']): { freqs: Float32Array; attnFactor: number } {
  const half = dim / 2;
  const f = new Float32Array(half);
  for (let j = 0; j < half; j++) f[j] = fr(1 / fr(base ** fr((2 * j) / dim)));
  let attnFactor = 1;
  if (scaling && scaling.factor > 1) {
    const corr = (rot: number) => (dim * Math.log(scaling.originalMaxPositions / (rot * 2 * Math.PI))) / (2 * Math.log(base));
    const low = Math.max(Math.floor(corr(scaling.betaFast)), 0);
    let high = Math.min(Math.ceil(corr(scaling.betaSlow)), dim - 1);
    if (low === high) high += 0.001;
    for (let j = 0; j < half; j++) {
      const ramp = Math.min(Math.max(fr(fr(j - low) / fr(high - low)), 0), 1);
      const smooth = fr(1 - ramp);
      f[j] = fr(fr(fr(f[j]! / scaling.factor) * fr(1 - smooth)) + fr(f[j]! * smooth));
    }
    if (scaling.mscaleAllDim) attnFactor = yarnMscale(scaling.factor, scaling.mscale) / yarnMscale(scaling.factor, scaling.mscaleAllDim);
  }
  return { freqs: f, attnFactor };
}

export class Rope {
  /** fp32 frequency per pair, length dim/2 */
  readonly freqs: Float32Array;
  /** multiplies cos and sin (YaRN attention factor) */
  readonly attnFactor: number;
  private cos: Float32Array;
  private sin: Float32Array;
  private cachedPos = -1;

  constructor(readonly dim: number, base: number, scaling: ModelConfig['ropeScaling']) {
    ({ freqs: this.freqs, attnFactor: this.attnFactor } = ropeFrequencies(dim, base, scaling));
    this.cos = new Float32Array(dim / 2);
    this.sin = new Float32Array(dim / 2);
  }

  private angles(pos: number): void {
    if (pos === this.cachedPos) return;
    for (let j = 0; j < this.freqs.length; j++) {
      const th = fr(pos * this.freqs[j]!);
      this.cos[j] = fr(Math.cos(th) * this.attnFactor);
      this.sin[j] = fr(Math.sin(th) * this.attnFactor);
    }
    this.cachedPos = pos;
  }

  /** Rotates x[off .. off+dim) in place at position pos; MLA pairs (x[2j], x[2j+1]). */
  interleaved(x: Float32Array, off: number, pos: number): void {
    this.angles(pos);
    for (let j = 0; j < this.freqs.length; j++) {
      const a = x[off + 2 * j]!;
      const b = x[off + 2 * j + 1]!;
      const c = this.cos[j]!;
      const s = this.sin[j]!;
      x[off + 2 * j] = a * c - b * s;
      x[off + 2 * j + 1] = a * s + b * c;
    }
  }

  /** Rotates x[off .. off+dim) in place at position pos; indexer pairs (x[j], x[j+dim/2]). */
  halfSplit(x: Float32Array, off: number, pos: number): void {
    this.angles(pos);
    const half = this.freqs.length;
    for (let j = 0; j < half; j++) {
      const a = x[off + j]!;
      const b = x[off + j + half]!;
      const c = this.cos[j]!;
      const s = this.sin[j]!;
      x[off + j] = a * c - b * s;
      x[off + j + half] = a * s + b * c;
    }
  }
}

/** MLA softmax scale: qk_head_dim^-½ · mscale², mscale from YaRN (spec §5.1). */
export function mlaSoftmaxScale(cfg: ModelConfig): number {
  let scale = (cfg.qkNopeHeadDim + cfg.qkRopeHeadDim) ** -0.5;
  const rs = cfg.ropeScaling;
  if (rs && rs.factor > 1) {
    // HF uses mscale_all_dim; the reference's args.mscale — equal (1.0) for every V3/V3.2 config
    const m = yarnMscale(rs.factor, rs.mscaleAllDim || rs.mscale);
    scale *= m * m;
  }
  return scale;
}
