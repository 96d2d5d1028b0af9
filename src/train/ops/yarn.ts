// RoPE frequency table with YaRN blending (spec §4.1, generalised to any rope dim / factor / original
// length), and the MLA softmax scale with the YaRN temperature (§5.1). Same fp32 roundings as the
// inference engine's src/model/rope.ts so trained checkpoints see identical angles there.
import type { ModelConfig } from '../../model/config.js';

const fr = Math.fround;

export function yarnMscale(factor: number, mscale: number): number {
  return factor <= 1 ? 1 : 0.1 * mscale * Math.log(factor) + 1;
}

/** cos/sin tables [positions, dim/2] for the rope width `dim`. */
export interface RopeTable {
  dim: number;
  positions: number;
  freqs: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeFrequencies(dim: number, base: number, scaling: ModelConfig['ropeScaling']): { freqs: Float32Array; attnFactor: number } {
  const half = dim / 2;
  const f = new Float32Array(half);
  for (let j = 0; j < half; j++) f[j] = fr(1 / fr(base ** fr((2 * j) / dim)));
  let attnFactor = 1;
  // YaRN whenever the config asks for it — not gated on a (small) training context length (pitfall 5).
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

export function ropeTable(cfg: ModelConfig, positions: number): RopeTable {
  const dim = cfg.qkRopeHeadDim;
  const { freqs, attnFactor } = ropeFrequencies(dim, cfg.ropeTheta, cfg.ropeScaling);
  const half = dim / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let t = 0; t < positions; t++) {
    for (let j = 0; j < half; j++) {
      const th = fr(t * freqs[j]!);
      cos[t * half + j] = fr(Math.cos(th) * attnFactor);
      sin[t * half + j] = fr(Math.sin(th) * attnFactor);
    }
  }
  return { dim, positions, freqs, cos, sin };
}

/** qk_head_dim^-½ · mscale² (mscale from YaRN when factor > 1). */
export function mlaSoftmaxScale(cfg: ModelConfig): number {
  let s = (cfg.qkNopeHeadDim + cfg.qkRopeHeadDim) ** -0.5;
  const rs = cfg.ropeScaling;
  if (rs && rs.factor > 1) {
    // HF uses mscale_all_dim, the reference args.mscale; both 1.0 in every shipped config.
    const m = yarnMscale(rs.factor, rs.mscaleAllDim || rs.mscale);
    s *= m * m;
  }
  return s;
}
