// Lightning-indexer score (spec §6 step 7, paper eq. 1):
//   I[s,t] = Σ_h w[s,h] · H^-½ · d^-½ · ReLU(q[s,h]·k[t])   for t ≤ s (causal), 0 elsewhere.
// ReLU acts on each head's raw dot product before the (possibly negative) head weight.
// Training computes it in fp32: no Hadamard rotation (orthonormal, so q·k is unchanged in exact
// arithmetic) and no FP8 quantisation — those are inference-time efficiency steps.
// The q·k products run per (sequence, head) as GEMMs (autograd/gemm.ts) over all S×S pairs; only the
// causal half is used.
import { gemm } from '../autograd/gemm.js';
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
  // raw per-head dot products [B, H, S, S], kept for the backward pass
  const dots = new Float32Array(B * H * S * S);
  const Q = new Float32Array(S * D);
  const gatherQ = (b: number, h: number) => {
    for (let s = 0; s < S; s++) Q.set(qd.subarray(((b * S + s) * H + h) * D, ((b * S + s) * H + h + 1) * D), s * D);
  };
  for (let b = 0; b < B; b++) {
    const Kb = kd.subarray(b * S * D, (b + 1) * S * D);
    for (let h = 0; h < H; h++) {
      gatherQ(b, h);
      const Dt = dots.subarray((b * H + h) * S * S, (b * H + h + 1) * S * S);
      gemm(Q, Kb, Dt, S, S, D, false, true);
      for (let s = 0; s < S; s++) {
        const row = b * S + s;
        const ws = wd[row * H + h]!;
        const o = s * S, io = row * S;
        for (let t = 0; t <= s; t++) {
          const dot = Dt[o + t]!;
          if (dot > 0) I[io + t] += ws * dot;
        }
      }
    }
  }
  for (let i = 0; i < I.length; i++) I[i]! *= c;
  return makeResult(I, [N, S], [q, k, w], (g) => {
    const gq = q.requiresGrad ? q.gradBuf() : null;
    const gk = k.requiresGrad ? k.gradBuf() : null;
    const gw = w.requiresGrad ? w.gradBuf() : null;
    const dD = new Float32Array(S * S);
    const dQ = new Float32Array(S * D);
    const dK = new Float32Array(S * D);
    for (let b = 0; b < B; b++) {
      const Kb = kd.subarray(b * S * D, (b + 1) * S * D);
      for (let h = 0; h < H; h++) {
        const Dt = dots.subarray((b * H + h) * S * S, (b * H + h + 1) * S * S);
        // dI/d dot = c·w·[dot > 0]; dI/dw = c·ReLU(dot)
        for (let s = 0; s < S; s++) {
          const row = b * S + s;
          const ws = wd[row * H + h]! * c;
          const o = s * S, io = row * S;
          let gws = 0;
          for (let t = 0; t <= s; t++) {
            const dot = Dt[o + t]!;
            const gi = g[io + t]!;
            if (dot > 0) { gws += gi * dot; dD[o + t] = gi * ws; } else dD[o + t] = 0;
          }
          dD.fill(0, o + s + 1, o + S);
          if (gw) gw[row * H + h] += gws * c;
        }
        if (gq) {
          gemm(dD, Kb, dQ, S, D, S, false, false);
          for (let s = 0; s < S; s++) {
            const qo = ((b * S + s) * H + h) * D;
            for (let i = 0; i < D; i++) gq[qo + i] += dQ[s * D + i]!;
          }
        }
        if (gk) {
          gatherQ(b, h);
          gemm(dD, Q, dK, S, D, S, true, false);
          const ko = b * S * D;
          for (let i = 0; i < S * D; i++) gk[ko + i] += dK[i]!;
        }
      }
    }
  });
}
