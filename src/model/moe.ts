// Feed-forward blocks (spec §8): the SwiGLU MLP of the leading dense layers and of every expert, and
// DeepSeekMoE — sigmoid router with a selection-only bias, group-limited top-k, weights renormalised
// over the chosen experts and scaled by routed_scaling_factor, plus always-on shared experts.
import type { Backend, Linear, MatmulItem } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import type { WeightLoader } from './weights.js';
import type { Workspace } from './workspace.js';

export class MLP {
  /** gate_proj and up_proj stacked into one [2·inter, hidden] linear (null: loaded apart, see linearStacked) */
  readonly gateUp: Linear | null;
  readonly gate: Linear | null;
  readonly up: Linear | null;
  readonly down: Linear;

  constructor(ld: WeightLoader, prefix: string, readonly hidden: number, readonly inter: number, private readonly ws: Workspace) {
    this.gateUp = ld.linearStacked([`${prefix}.gate_proj`, `${prefix}.up_proj`], [inter, inter], hidden);
    this.gate = this.gateUp ? null : ld.linear(`${prefix}.gate_proj`, inter, hidden);
    this.up = this.gateUp ? null : ld.linear(`${prefix}.up_proj`, inter, hidden);
    this.down = ld.linear(`${prefix}.down_proj`, hidden, inter);
  }

  /** down(silu(gate(x)) ⊙ up(x)) for M rows; the result lives in the workspace under `outKey`. */
  forward(be: Backend, x: Float32Array, M: number, outKey = 'mlp.out'): Float32Array {
    const I = this.inter;
    const g = this.ws.f32('mlp.g', M * I);
    const u = this.ws.f32('mlp.u', M * I);
    if (this.gateUp) {
      // one product; row m holds gate then up
      const gu = be.matmul(x, M, this.gateUp, this.ws.f32('mlp.gu', M * 2 * I));
      for (let m = 0; m < M; m++) {
        g.set(gu.subarray(2 * m * I, (2 * m + 1) * I), m * I);
        u.set(gu.subarray((2 * m + 1) * I, (2 * m + 2) * I), m * I);
      }
    } else {
      be.matmul(x, M, this.gate!, g);
      be.matmul(x, M, this.up!, u);
    }
    return be.matmul(be.swiglu(g, u, M * I), M, this.down, this.ws.f32(outKey, M * this.hidden));
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

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig, private readonly ws: Workspace) {
    this.gate = ld.linearF32(`${prefix}.gate`, cfg.nRoutedExperts, cfg.hiddenSize, { exact: true }); // expert choice
    const bname = `${prefix}.gate.e_score_correction_bias`;
    this.bias = ld.has(bname) ? ld.vector(bname, cfg.nRoutedExperts) : null;
  }

  route(be: Backend, x: Float32Array, M: number): Routing {
    const { nRoutedExperts: E, nGroup: G, topkGroup, expertsPerToken: K } = this.cfg;
    const ws = this.ws;
    const z = be.matmul(x, M, this.gate, ws.f32('router.z', M * E));
    const per = E / G;
    const experts = ws.i32('router.experts', M * K);
    const weights = ws.f32('router.weights', M * K);
    const scores = ws.f32('router.scores', E);
    const biased = ws.f32('router.biased', E);
    const gscore = ws.f32('router.gscore', G);
    const kept = ws.u8('router.kept', G);
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
        const keep = ws.i32('router.keep', topkGroup);
        topIndices(gscore, G, topkGroup, keep);
        kept.fill(0);
        for (const g of keep) kept[g] = 1;
        for (let g = 0; g < G; g++) if (!kept[g]) biased.fill(-Infinity, g * per, (g + 1) * per);
      }
      const chosen = experts.subarray(m * K, (m + 1) * K);
      topIndices(biased, E, K, chosen);
      let sum = 0;
      for (let i = 0; i < K; i++) sum += scores[chosen[i]!]!;
      const norm = this.cfg.scoringFunc === 'sigmoid' || this.cfg.normTopkProb;
      for (let i = 0; i < K; i++) weights[m * K + i] = (norm ? scores[chosen[i]!]! / sum : scores[chosen[i]!]!) * this.cfg.routedScalingFactor;
    }
    return { experts, weights };
  }
}

/** Indices of the k largest values into out, largest first (ties → lower index first, like a stable sort). */
export function topIndices(v: Float32Array, n: number, k: number, out: Int32Array): void {
  // insertion into a sorted run of k: k and n are small (experts, groups)
  let len = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (len === k && !(x > v[out[k - 1]!]!)) continue;
    let j = len < k ? len++ : k - 1;
    while (j > 0 && v[out[j - 1]!]! < x) { out[j] = out[j - 1]!; j--; }
    out[j] = i;
  }
}

interface OneTokenLists {
  order: Int32Array; gates: Float32Array; gu: MatmulItem[]; down: MatmulItem[]; guKeys: string[]; downKeys: string[];
  /** gate and up halves of each gu buffer */
  gateOf: Float32Array[]; upOf: Float32Array[];
}

export class MoE {
  readonly router: Router;
  readonly experts: MLP[];
  readonly shared: MLP | null;

  constructor(ld: WeightLoader, prefix: string, readonly cfg: ModelConfig, private readonly ws: Workspace) {
    this.router = new Router(ld, prefix, cfg, ws);
    this.experts = Array.from({ length: cfg.nRoutedExperts }, (_, e) =>
      new MLP(ld, `${prefix}.experts.${e}`, cfg.hiddenSize, cfg.moeIntermediateSize, ws));
    this.shared = cfg.nSharedExperts > 0
      ? new MLP(ld, `${prefix}.shared_experts`, cfg.hiddenSize, cfg.moeIntermediateSize * cfg.nSharedExperts, ws)
      : null;
  }

  /** Each active expert runs once over all of its tokens; sums in ascending expert order, shared last. */
  forward(be: Backend, x: Float32Array, M: number, onRoute?: (r: Routing) => void): Float32Array {
    const D = this.cfg.hiddenSize;
    const K = this.cfg.expertsPerToken;
    const E = this.experts.length;
    const ws = this.ws;
    const r = this.router.route(be, x, M);
    onRoute?.(r);
    if (M === 1 && this.experts.every((e) => e.gateUp) && (!this.shared || this.shared.gateUp)) return this.forwardOne(be, x, r);
    const y = ws.zeros('moe.y', M * D);
    // counting sort of the (token, expert) pairs by expert
    const start = ws.i32('moe.start', E + 1);
    start.fill(0);
    for (let i = 0; i < M * K; i++) start[r.experts[i]! + 1]!++;
    for (let e = 0; e < E; e++) start[e + 1]! += start[e]!;
    const fill = ws.i32('moe.fill', E);
    fill.set(start.subarray(0, E));
    const tok = ws.i32('moe.tok', M * K);
    const wt = ws.f32('moe.wt', M * K);
    for (let m = 0; m < M; m++) {
      for (let i = 0; i < K; i++) {
        const e = r.experts[m * K + i]!;
        const j = fill[e]!++;
        tok[j] = m;
        wt[j] = r.weights[m * K + i]!;
      }
    }
    for (let e = 0; e < E; e++) {
      const a = start[e]!;
      const n = start[e + 1]! - a;
      if (!n) continue;
      const xe = ws.f32('moe.xe', n * D);
      for (let i = 0; i < n; i++) xe.set(x.subarray(tok[a + i]! * D, (tok[a + i]! + 1) * D), i * D);
      const ye = this.experts[e]!.forward(be, xe, n);
      for (let i = 0; i < n; i++) {
        const o = tok[a + i]! * D;
        const g = wt[a + i]!;
        for (let d = 0; d < D; d++) y[o + d]! += ye[i * D + d]! * g;
      }
    }
    if (this.shared) {
      const ys = this.shared.forward(be, x, M);
      for (let i = 0; i < y.length; i++) y[i]! += ys[i]!;
    }
    return y;
  }

  /**
   * One token (decode): the same sums as forward, with the chosen experts' and the shared expert's products
   * in two matmulList calls (every gate/up, then every down) instead of two calls per expert. Its item lists,
   * keys and order arrays are made once; the buffers come from the workspace.
   */
  private forwardOne(be: Backend, x: Float32Array, r: Routing): Float32Array {
    const D = this.cfg.hiddenSize;
    const k = this.cfg.expertsPerToken;
    const ws = this.ws;
    const one = (this.one ??= this.makeOne());
    // the chosen experts in ascending order (insertion sort of k), with their gates
    for (let i = 0; i < k; i++) {
      const e = r.experts[i]!, g = r.weights[i]!;
      let j = i;
      while (j > 0 && one.order[j - 1]! > e) { one.order[j] = one.order[j - 1]!; one.gates[j] = one.gates[j - 1]!; j--; }
      one.order[j] = e;
      one.gates[j] = g;
    }
    const n = one.gu.length;
    for (let i = 0; i < n; i++) {
      const m = i < k ? this.experts[one.order[i]!]! : this.shared!;
      const it = one.gu[i]!;
      it.x = x;
      it.w = m.gateUp!;
      it.y = ws.f32(one.guKeys[i]!, 2 * m.inter);
    }
    be.matmulList(one.gu);
    for (let i = 0; i < n; i++) {
      const m = i < k ? this.experts[one.order[i]!]! : this.shared!;
      const h = one.gu[i]!.y;
      if (one.gateOf[i]!.buffer !== h.buffer || one.gateOf[i]!.byteOffset !== h.byteOffset) { // views made once per buffer
        one.gateOf[i] = h.subarray(0, m.inter);
        one.upOf[i] = h.subarray(m.inter);
      }
      const it = one.down[i]!;
      it.x = be.swiglu(one.gateOf[i]!, one.upOf[i]!, m.inter);
      it.w = m.down;
      it.y = ws.f32(one.downKeys[i]!, D);
    }
    be.matmulList(one.down);
    // ascending expert order, shared last: the order forward sums in
    const y = ws.zeros('moe.y', D);
    for (let i = 0; i < k; i++) {
      const ye = one.down[i]!.y, g = one.gates[i]!;
      for (let d = 0; d < D; d++) y[d]! += ye[d]! * g;
    }
    if (this.shared) {
      const ys = one.down[k]!.y;
      for (let d = 0; d < D; d++) y[d]! += ys[d]!;
    }
    return y;
  }

  private one: OneTokenLists | null = null;

  private makeOne(): OneTokenLists {
    const n = this.cfg.expertsPerToken + (this.shared ? 1 : 0);
    const item = (): MatmulItem => ({ x: new Float32Array(0), w: this.experts[0]!.down, y: new Float32Array(0) });
    return {
      order: new Int32Array(this.cfg.expertsPerToken), gates: new Float32Array(this.cfg.expertsPerToken),
      gu: Array.from({ length: n }, item), down: Array.from({ length: n }, item),
      guKeys: Array.from({ length: n }, (_, i) => `moe1.gu${i}`), downKeys: Array.from({ length: n }, (_, i) => `moe1.d${i}`),
      gateOf: Array.from({ length: n }, () => new Float32Array(0)), upOf: Array.from({ length: n }, () => new Float32Array(0)),
    };
  }
}
