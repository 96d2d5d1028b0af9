// MLA attention core in "MHA mode" (spec §5.2): per head h, score(s,t) = scale·(q_nope_h·k_nope_h[t] +
// q_pe_h·k_pe[t]) with one RoPE key k_pe shared by all heads, causal (t ≤ s) and, for DSA, only over
// the keys `allowed[s]` the indexer selected; softmax over t; output Σ_t p·v_h[t].
// Fused so the [S,S] scores never become graph tensors; the probabilities are returned (read-only)
// because the indexer's training target is built from them. Each (sequence, head) gathers its q, k, v
// into contiguous panels and runs the products as GEMMs (autograd/gemm.ts, so a fast kernel installed
// with setGemm speeds attention too); the full S×S products cost 2× the causal half but run an order of
// magnitude faster than scalar loops.
import { gemm } from '../autograd/gemm.js';
import { makeResult, type Tensor } from '../autograd/tensor.js';

export interface MlaDims {
  B: number;
  S: number;
  heads: number;
  nope: number;
  rope: number;
  v: number;
  scale: number;
}

export interface MlaAttentionResult {
  out: Tensor;
  /** [B, heads, S, S]: attention probabilities, zero outside the causal/selected set */
  probs: Float32Array;
}

/** Per-head panels of one sequence: Q [S, nope+rope], K [S, nope+rope] (k_pe shared), V [S, v]. */
function gatherHead(qd: Float32Array, kvd: Float32Array, ped: Float32Array, d: MlaDims, b: number, h: number,
  Q: Float32Array, K: Float32Array, V: Float32Array): void {
  const { S, heads: H, nope: dn, rope: dr, v: dv } = d;
  const dq = dn + dr, dkv = dn + dv;
  for (let s = 0; s < S; s++) {
    const row = b * S + s;
    Q.set(qd.subarray(row * H * dq + h * dq, row * H * dq + (h + 1) * dq), s * dq);
    const ko = row * H * dkv + h * dkv;
    K.set(kvd.subarray(ko, ko + dn), s * dq);
    K.set(ped.subarray(row * dr, (row + 1) * dr), s * dq + dn);
    V.set(kvd.subarray(ko + dn, ko + dkv), s * dv);
  }
}

/**
 * q [B·S, heads·(nope+rope)] (per head [nope | pe], pe already rotated), kv [B·S, heads·(nope+v)]
 * (per head [k_nope | v], the kv_b_proj layout), kPe [B·S, rope] (rotated).
 * allowed: null (dense causal) or [B·S, S] with 1 where query s may attend key t (causal is enforced too).
 */
export function mlaAttention(q: Tensor, kv: Tensor, kPe: Tensor, d: MlaDims, allowed: Uint8Array | null): MlaAttentionResult {
  const { B, S, heads: H, nope: dn, rope: dr, v: dv, scale } = d;
  const dq = dn + dr;
  const dkv = dn + dv;
  const N = B * S;
  if (q.size !== N * H * dq || kv.size !== N * H * dkv || kPe.size !== N * dr) throw new Error('mlaAttention: input sizes do not match the dims');
  if (allowed && allowed.length !== N * S) throw new Error('mlaAttention: selection mask must be [B·S, S]');
  const qd = q.data, kvd = kv.data, ped = kPe.data;
  const out = new Float32Array(N * H * dv);
  const probs = new Float32Array(B * H * S * S);
  const Q = new Float32Array(S * dq), K = new Float32Array(S * dq), V = new Float32Array(S * dv);
  const O = new Float32Array(S * dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      gatherHead(qd, kvd, ped, d, b, h, Q, K, V);
      const P = probs.subarray((b * H + h) * S * S, (b * H + h + 1) * S * S);
      gemm(Q, K, P, S, S, dq, false, true); // raw scores, then softmax in place
      for (let s = 0; s < S; s++) {
        const o = s * S;
        const mrow = allowed ? (b * S + s) * S : 0;
        let m = -Infinity;
        for (let t = 0; t <= s; t++) {
          if (allowed && !allowed[mrow + t]) continue;
          const v = P[o + t]! * scale;
          if (v > m) m = v;
        }
        if (m === -Infinity) { P.fill(0, o, o + S); continue; } // nothing selected: zero output
        let z = 0;
        for (let t = 0; t <= s; t++) {
          const e = allowed && !allowed[mrow + t] ? 0 : Math.exp(P[o + t]! * scale - m);
          P[o + t] = e;
          z += e;
        }
        const inv = 1 / z;
        for (let t = 0; t <= s; t++) P[o + t]! *= inv;
        P.fill(0, o + s + 1, o + S);
      }
      gemm(P, V, O, S, dv, S, false, false);
      for (let s = 0; s < S; s++) out.set(O.subarray(s * dv, (s + 1) * dv), (b * S + s) * H * dv + h * dv);
    }
  }
  const result = makeResult(out, [N, H * dv], [q, kv, kPe], (g) => {
    const gq = q.requiresGrad ? q.gradBuf() : null;
    const gkv = kv.requiresGrad ? kv.gradBuf() : null;
    const gpe = kPe.requiresGrad ? kPe.gradBuf() : null;
    const G = new Float32Array(S * dv);
    const dS = new Float32Array(S * S);
    const dQ = new Float32Array(S * dq), dK = new Float32Array(S * dq), dV = new Float32Array(S * dv);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        gatherHead(qd, kvd, ped, d, b, h, Q, K, V);
        for (let s = 0; s < S; s++) G.set(g.subarray((b * S + s) * H * dv + h * dv, (b * S + s) * H * dv + (h + 1) * dv), s * dv);
        const P = probs.subarray((b * H + h) * S * S, (b * H + h + 1) * S * S);
        // dP = G·Vᵀ ; dscore = P ∘ (dP − Σ_t P·dP) · scale
        gemm(G, V, dS, S, S, dv, false, true);
        for (let s = 0; s < S; s++) {
          const o = s * S;
          let pdp = 0;
          for (let t = 0; t <= s; t++) pdp += P[o + t]! * dS[o + t]!;
          for (let t = 0; t <= s; t++) dS[o + t] = P[o + t]! * (dS[o + t]! - pdp) * scale;
          dS.fill(0, o + s + 1, o + S);
        }
        if (gq) {
          gemm(dS, K, dQ, S, dq, S, false, false);
          for (let s = 0; s < S; s++) {
            const qo = (b * S + s) * H * dq + h * dq;
            for (let i = 0; i < dq; i++) gq[qo + i] += dQ[s * dq + i]!;
          }
        }
        if (gkv || gpe) {
          gemm(dS, Q, dK, S, dq, S, true, false);
          if (gkv) gemm(P, G, dV, S, dv, S, true, false);
          for (let s = 0; s < S; s++) {
            const row = b * S + s;
            const ko = row * H * dkv + h * dkv;
            if (gkv) {
              for (let i = 0; i < dn; i++) gkv[ko + i] += dK[s * dq + i]!;
              for (let i = 0; i < dv; i++) gkv[ko + dn + i] += dV[s * dv + i]!;
            }
            if (gpe) for (let i = 0; i < dr; i++) gpe[row * dr + i] += dK[s * dq + dn + i]!;
          }
        }
      }
    }
  });
  return { out: result, probs };
}

/**
 * The indexer's target (spec §14): attention probabilities summed over heads and L1-normalised per
 * query → [B·S, S]. A constant: it never carries gradient back into the main model.
 */
export function attentionTarget(probs: Float32Array, B: number, H: number, S: number): Float32Array {
  const tgt = new Float32Array(B * S * S);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const o = (b * S + s) * S;
      let z = 0;
      for (let h = 0; h < H; h++) {
        const prow = ((b * H + h) * S + s) * S;
        for (let t = 0; t <= s; t++) tgt[o + t] += probs[prow + t]!;
      }
      for (let t = 0; t <= s; t++) z += tgt[o + t]!;
      if (z > 0) for (let t = 0; t <= s; t++) tgt[o + t]! /= z;
    }
  }
  return tgt;
}
