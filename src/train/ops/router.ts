// DeepSeekMoE router (spec §8.2): the correction bias takes part only in *selection* (group-limited:
// group score = sum of its top-2 biased scores, keep `topkGroup` groups, then top-k experts); the
// weights are the unbiased scores of the chosen experts, renormalised, × routed_scaling_factor.
// Gradients flow through the chosen experts' weights; the discrete selection has none.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export interface RouterSpec {
  experts: number;
  topk: number;
  nGroup: number;
  topkGroup: number;
  normTopkProb: boolean;
  scale: number;
}

export interface Routing {
  /** [N, topk] gate weights (differentiable wrt the scores) */
  weights: Tensor;
  /** [N·topk] chosen expert ids, row-major like weights */
  experts: Int32Array;
}

/** scores [N, E] (sigmoid of the gate logits), bias [E] (e_score_correction_bias). */
export function route(scores: Tensor, bias: Float32Array, r: RouterSpec): Routing {
  const E = r.experts;
  const k = r.topk;
  const N = scores.rows;
  if (scores.cols !== E || bias.length !== E) throw new Error('route: scores/bias width is not the expert count');
  const gsize = E / r.nGroup;
  const sd = scores.data;
  const experts = new Int32Array(N * k);
  const w = new Float32Array(N * k);
  const zs = new Float64Array(N);
  const sb = new Float64Array(E);
  const gscore = new Float64Array(r.nGroup);
  const keepGroup = new Uint8Array(r.nGroup);
  for (let n = 0; n < N; n++) {
    const o = n * E;
    for (let e = 0; e < E; e++) sb[e] = sd[o + e]! + bias[e]!;
    if (r.nGroup > 1) {
      for (let gi = 0; gi < r.nGroup; gi++) {
        let m1 = -Infinity, m2 = -Infinity;
        for (let e = gi * gsize; e < (gi + 1) * gsize; e++) {
          const v = sb[e]!;
          if (v > m1) { m2 = m1; m1 = v; } else if (v > m2) m2 = v;
        }
        gscore[gi] = gsize > 1 ? m1 + m2 : m1;
      }
      keepGroup.fill(0);
      for (let j = 0; j < r.topkGroup; j++) {
        let best = -1;
        for (let gi = 0; gi < r.nGroup; gi++) if (!keepGroup[gi] && (best < 0 || gscore[gi]! > gscore[best]!)) best = gi;
        keepGroup[best] = 1;
      }
      for (let e = 0; e < E; e++) if (!keepGroup[Math.floor(e / gsize)]) sb[e] = -Infinity;
    }
    let z = 0;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let e = 0; e < E; e++) if (sb[e]! > -Infinity && (best < 0 || sb[e]! > sb[best]!)) best = e;
      sb[best] = -Infinity;
      experts[n * k + j] = best;
      z += sd[o + best]!;
    }
    zs[n] = z;
    for (let j = 0; j < k; j++) {
      const s = sd[o + experts[n * k + j]!]!;
      w[n * k + j] = r.normTopkProb ? (s / z) * r.scale : s * r.scale;
    }
  }
  const weights = makeResult(w, [N, k], [scores], (g) => {
    const gs = scores.gradBuf();
    for (let n = 0; n < N; n++) {
      const o = n * E;
      if (!r.normTopkProb) {
        for (let j = 0; j < k; j++) gs[o + experts[n * k + j]!] += g[n * k + j]! * r.scale;
        continue;
      }
      // g_i = c·s_i/Z  ⇒  ∂/∂s_j = c/Z · (dg_j − Σ_i dg_i·s_i/Z)
      const z = zs[n]!;
      let dot = 0;
      for (let j = 0; j < k; j++) dot += g[n * k + j]! * sd[o + experts[n * k + j]!]!;
      dot /= z;
      for (let j = 0; j < k; j++) gs[o + experts[n * k + j]!] += (r.scale / z) * (g[n * k + j]! - dot);
    }
  });
  return { weights, experts };
}

/** Tokens per expert: for each expert the token rows it serves and the slot (n·topk + j) of its weight. */
export function dispatch(experts: Int32Array, N: number, topk: number, E: number): { rows: Int32Array[]; slots: Int32Array[]; load: Int32Array } {
  const load = new Int32Array(E);
  for (let i = 0; i < N * topk; i++) load[experts[i]!]++;
  const rows = Array.from({ length: E }, (_, e) => new Int32Array(load[e]!));
  const slots = Array.from({ length: E }, (_, e) => new Int32Array(load[e]!));
  const fill = new Int32Array(E);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < topk; j++) {
      const e = experts[n * topk + j]!;
      rows[e]![fill[e]!] = n;
      slots[e]![fill[e]!] = n * topk + j;
      fill[e]++;
    }
  }
  return { rows, slots, load };
}
