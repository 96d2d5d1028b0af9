// MLA attention core in "MHA mode" (spec §5.2): per head h, score(s,t) = scale·(q_nope_h·k_nope_h[t] +
// q_pe_h·k_pe[t]) with one RoPE key k_pe shared by all heads, causal (t ≤ s) and, for DSA, only over
// the keys `allowed[s]` the indexer selected; softmax over t; output Σ_t p·v_h[t].
// Fused so the [S,S] scores never become graph tensors; the probabilities are returned (read-only)
// because the indexer's training target is built from them.
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
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let s = 0; s < S; s++) {
        const qo = (b * S + s) * H * dq + h * dq;
        const mrow = allowed ? (b * S + s) * S : 0;
        let m = -Infinity;
        for (let t = 0; t <= s; t++) {
          if (allowed && !allowed[mrow + t]) { sc[t] = -Infinity; continue; }
          const ko = (b * S + t) * H * dkv + h * dkv;
          const po = (b * S + t) * dr;
          let acc = 0;
          for (let i = 0; i < dn; i++) acc += qd[qo + i]! * kvd[ko + i]!;
          for (let i = 0; i < dr; i++) acc += qd[qo + dn + i]! * ped[po + i]!;
          acc *= scale;
          sc[t] = acc;
          if (acc > m) m = acc;
        }
        const prow = ((b * H + h) * S + s) * S;
        if (m === -Infinity) continue; // nothing selected: zero output
        let z = 0;
        for (let t = 0; t <= s; t++) {
          const e = sc[t] === -Infinity ? 0 : Math.exp(sc[t]! - m);
          sc[t] = e;
          z += e;
        }
        const oo = (b * S + s) * H * dv + h * dv;
        for (let t = 0; t <= s; t++) {
          const p = sc[t]! / z;
          probs[prow + t] = p;
          if (p === 0) continue;
          const vo = (b * S + t) * H * dkv + h * dkv + dn;
          for (let i = 0; i < dv; i++) out[oo + i] += p * kvd[vo + i]!;
        }
      }
    }
  }
  const result = makeResult(out, [N, H * dv], [q, kv, kPe], (g) => {
    const gq = q.requiresGrad ? q.gradBuf() : null;
    const gkv = kv.requiresGrad ? kv.gradBuf() : null;
    const gpe = kPe.requiresGrad ? kPe.gradBuf() : null;
    const dp = new Float64Array(S);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let s = 0; s < S; s++) {
          const prow = ((b * H + h) * S + s) * S;
          const go = (b * S + s) * H * dv + h * dv;
          const qo = (b * S + s) * H * dq + h * dq;
          // dp_t = g·v_t ; dscore_t = p_t (dp_t − Σ p dp)
          let pdp = 0;
          for (let t = 0; t <= s; t++) {
            const p = probs[prow + t]!;
            if (p === 0) { dp[t] = 0; continue; }
            const vo = (b * S + t) * H * dkv + h * dkv + dn;
            let acc = 0;
            for (let i = 0; i < dv; i++) acc += g[go + i]! * kvd[vo + i]!;
            dp[t] = acc;
            pdp += p * acc;
            if (gkv) for (let i = 0; i < dv; i++) gkv[vo + i] += p * g[go + i]!;
          }
          for (let t = 0; t <= s; t++) {
            const p = probs[prow + t]!;
            if (p === 0) continue;
            const ds = p * (dp[t]! - pdp) * scale;
            const ko = (b * S + t) * H * dkv + h * dkv;
            const po = (b * S + t) * dr;
            if (gq) {
              for (let i = 0; i < dn; i++) gq[qo + i] += ds * kvd[ko + i]!;
              for (let i = 0; i < dr; i++) gq[qo + dn + i] += ds * ped[po + i]!;
            }
            if (gkv) for (let i = 0; i < dn; i++) gkv[ko + i] += ds * qd[qo + i]!;
            if (gpe) for (let i = 0; i < dr; i++) gpe[po + i] += ds * qd[qo + dn + i]!;
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
