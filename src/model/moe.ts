// Feed-forward blocks (spec §8): the SwiGLU MLP of the leading dense layers and of every expert, and
// DeepSeekMoE — sigmoid router with a selection-only bias, group-limited top-k, weights renormalised
// over the chosen experts and scaled by routed_scaling_factor, plus always-on shared experts.
import type { Backend, Linear } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import type { WeightLoader } from './weights.js';

export class MLP {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;

  constructor(ld: WeightLoader, prefix: string, hidden: number, inter: number) {
    this.gate = ld.linear(`${prefix}.gate_proj`, inter, hidden);
    this.up = ld.linear(`${prefix}.up_proj`, inter, hidden);
    this.down = ld.linear(`${prefix}.down_proj`, hidden, inter);
  }

  /** down(silu(gate(x)) ⊙ up(x)) for M rows. */
  forward(be: Backend, x: Float32Array, M: number): Float32Array {
    const g = be.matmul(x, M, this.gate);
    const u = be.matmul(x, M, this.up);
    for (let i = 0; i < g.length; i++) {
      const a = g[i]!;
      g[i] = (a / (1 + Math.exp(-a))) * u[i]!;
    }
    return be.matmul(g, M, this.down);
  }
}

export interface Routing {
  /** [M, k] chosen experts per token */
  experts: Int32Array;
  /** [M, k] their weights (already × routed_scaling_factor) */
  weights: Float32Array;
}

export class Router {
  readonly gate: Linear;
  readonly bias: Float32Array | null;

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig) {
    this.gate = ld.linearF32(`${prefix}.gate`, cfg.nRoutedExperts, cfg.hiddenSize, { exact: true }); // expert choice
    const bname = `${prefix}.gate.e_score_correction_bias`;
    this.bias = ld.has(bname) ? ld.vector(bname, cfg.nRoutedExperts) : null;
  }

  route(be: Backend, x: Float32Array, M: number): Routing {
    const { nRoutedExperts: E, nGroup: G, topkGroup, expertsPerToken: K } = this.cfg;
    const z = be.matmul(x, M, this.gate);
    const per = E / G;
    const experts = new Int32Array(M * K);
    const weights = new Float32Array(M * K);
    const scores = new Float32Array(E);
    const biased = new Float32Array(E);
    const gscore = new Float32Array(G);
    for (let m = 0; m < M; m++) {
      const zr = z.subarray(m * E, (m + 1) * E);
      if (this.cfg.scoringFunc === 'sigmoid') {
        for (let e = 0; e < E; e++) scores[e] = 1 / (1 + Math.exp(-zr[e]!));
      } else {
        let mx = -Infinity;
        for (let e = 0; e < E; e++) mx = Math.max(mx, zr[e]!);
        let sum = 0;
        for (let e = 0; e < E; e++) { scores[e] = Math.exp(zr[e]! - mx); sum += scores[e]!; }
        for (let e = 0; e < E; e++) scores[e]! /= sum;
      }
      for (let e = 0; e < E; e++) biased[e] = scores[e]! + (this.bias ? this.bias[e]! : 0);
      if (G > 1) {
        // group score: sum of the top-2 biased scores (max without a bias, as the reference)
        for (let g = 0; g < G; g++) {
          let a = -Infinity;
          let b = -Infinity;
          for (let e = g * per; e < (g + 1) * per; e++) {
            const v = biased[e]!;
            if (v > a) { b = a; a = v; } else if (v > b) b = v;
          }
          gscore[g] = this.bias ? a + (per > 1 ? b : 0) : a;
        }
        const keep = topIndices(gscore, G, topkGroup);
        const kept = new Uint8Array(G);
        for (const g of keep) kept[g] = 1;
        for (let g = 0; g < G; g++) if (!kept[g]) biased.fill(-Infinity, g * per, (g + 1) * per);
      }
      const chosen = topIndices(biased, E, K);
      let sum = 0;
      for (let i = 0; i < K; i++) sum += scores[chosen[i]!]!;
      const norm = this.cfg.scoringFunc === 'sigmoid' || this.cfg.normTopkProb;
      for (let i = 0; i < K; i++) {
        experts[m * K + i] = chosen[i]!;
        weights[m * K + i] = (norm ? scores[chosen[i]!]! / sum : scores[chosen[i]!]!) * this.cfg.routedScalingFactor;
      }
    }
    return { experts, weights };
  }
}

/** Indices of the k largest values (ties → lower index first, like a stable sort). */
export function topIndices(v: Float32Array, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => v[b]! - v[a]! || a - b);
  return idx.slice(0, k);
}

export class MoE {
  readonly router: Router;
  readonly experts: MLP[];
  readonly shared: MLP | null;

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig) {
    this.router = new Router(ld, prefix, cfg);
    this.experts = Array.from({ length: cfg.nRoutedExperts }, (_, e) =>
      new MLP(ld, `${prefix}.experts.${e}`, cfg.hiddenSize, cfg.moeIntermediateSize));
    this.shared = cfg.nSharedExperts > 0
      ? new MLP(ld, `${prefix}.shared_experts`, cfg.hiddenSize, cfg.moeIntermediateSize * cfg.nSharedExperts)
      : null;
  }

  /** Each active expert runs once over all of its tokens; sums in ascending expert order, shared last. */
  forward(be: Backend, x: Float32Array, M: number, onRoute?: (r: Routing) => void): Float32Array {
    const D = this.cfg.hiddenSize;
    const K = this.cfg.expertsPerToken;
    const r = this.router.route(be, x, M);
    onRoute?.(r);
    const y = new Float32Array(M * D);
    const byExpert: { tok: number[]; w: number[] }[] = this.experts.map(() => ({ tok: [], w: [] }));
    for (let m = 0; m < M; m++) {
      for (let i = 0; i < K; i++) {
        const b = byExpert[r.experts[m * K + i]!]!;
        b.tok.push(m);
        b.w.push(r.weights[m * K + i]!);
      }
    }
    for (let e = 0; e < this.experts.length; e++) {
      const { tok, w } = byExpert[e]!;
      if (!tok.length) continue;
      const xe = new Float32Array(tok.length * D);
      for (let i = 0; i < tok.length; i++) xe.set(x.subarray(tok[i]! * D, (tok[i]! + 1) * D), i * D);
      const ye = this.experts[e]!.forward(be, xe, tok.length);
      for (let i = 0; i < tok.length; i++) {
        const o = tok[i]! * D;
        const g = w[i]!;
        for (let d = 0; d < D; d++) y[o + d]! += ye[i * D + d]! * g;
      }
    }
    if (this.shared) {
      const ys = this.shared.forward(be, x, M);
      for (let i = 0; i < y.length; i++) y[i]! += ys[i]!;
    }
    return y;
  }
}
