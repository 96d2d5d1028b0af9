// RoPE cos/sin tables for training, from the inference engine's own YaRN frequencies (src/model/rope.ts),
// so trained checkpoints see identical angles there.
import type { ModelConfig } from '../../model/config.js';
import { mlaSoftmaxScale, ropeFrequencies, yarnMscale } from '../../model/rope.js';

export { mlaSoftmaxScale, ropeFrequencies, yarnMscale };

const fr = Math.fround;

/** cos/sin tables [positions, dim/2] for the rope width `dim`. */
export interface RopeTable {
  dim: number;
  positions: number;
  freqs: Float32Array;
  cos: Float32Array;
  sin: Float32Array;
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
