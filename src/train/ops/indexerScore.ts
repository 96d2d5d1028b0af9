// Lightning-indexer score (spec §6 step 7, paper eq. 1):
//   I[s,t] = Σ_h w[s,h] · H^-½ · d^-½ · ReLU(q[s,h]·k[t])   for t ≤ s (causal), 0 elsewhere.
// ReLU acts on each head's raw dot product before the (possibly negative) head weight.
// Training computes it in fp32: no Hadamard rotation (orthonormal, so q·k is unchanged in exact
// arithmetic) and no FP8 quantisation — those are inference-time efficiency steps.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export interface IndexerDims {
  B: number;
  S: number;
  heads: number;
  headDim: number;
}

/** q [B·S, heads·headDim], k [B·S, headDim], w [B·S, heads] → I [B·S, S]. */
export function indexerScore(q: Tensor, k: Tensor, w: Tensor, d: IndexerDims): Tensor {
  const { B, S, heads: H, headDim: D } = d;
  const N = B * S;
  if (q.size !== N * H * D || k.size !== N * D || w.size !== N * H) throw new Error('indexerScore: input sizes do not match the dims');
  const c = H ** -0.5 * D ** -0.5;
  const qd = q.data, kd = k.data, wd = w.data;
  const I = new Float32Array(N * S);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const row = b * S + s;
      for (let t = 0; t <= s; t++) {
        const ko = (b * S + t) * D;
        let acc = 0;
        for (let h = 0; h < H; h++) {
          const qo = (row * H + h) * D;
          let dot = 0;
          for (let i = 0; i < D; i++) dot += qd[qo + i]! * kd[ko + i]!;
          if (dot > 0) acc += wd[row * H + h]! * dot;
        }
        I[row * S + t] = acc * c;
      }
    }
  }
  return makeResult(I, [N, S], [q, k, w], (g) => {
    const gq = q.requiresGrad ? q.gradBuf() : null;
    const gk = k.requiresGrad ? k.gradBuf() : null;
    const gw = w.requiresGrad ? w.gradBuf() : null;
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        const row = b * S + s;
        for (let t = 0; t <= s; t++) {
          const gi = g[row * S + t]! * c;
          if (gi === 0) continue;
          const ko = (b * S + t) * D;
          for (let h = 0; h < H; h++) {
            const qo = (row * H + h) * D;
            let dot = 0;
            for (let i = 0; i < D; i++) dot += qd[qo + i]! * kd[ko + i]!;
            if (dot <= 0) continue;
            if (gw) gw[row * H + h] += gi * dot;
            const dr = gi * wd[row * H + h]!;
            if (gq) for (let i = 0; i < D; i++) gq[qo + i] += dr * kd[ko + i]!;
            if (gk) for (let i = 0; i < D; i++) gk[ko + i] += dr * qd[qo + i]!;
          }
        }
      }
    }
  });
}
