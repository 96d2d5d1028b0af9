// Turning logits into tokens: penalties → temperature → top-k → top-p, then a draw from the seeded RNG
// (temperature 0 = greedy). The distribution is materialised so speculative decoding can do exact
// rejection sampling against it, and constrained decoding can mask tokens lazily.
import type { Random } from './random.js';

export interface SamplingParams {
  /** 0 = greedy */
  temperature: number;
  /** nucleus mass kept; 1 = off */
  topP: number;
  /** keep only the k most likely; 0 = off */
  topK: number;
  frequencyPenalty: number;
  presencePenalty: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, frequencyPenalty: 0, presencePenalty: 0 };

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** OpenAI-style penalties on the tokens generated so far, in place. */
export function applyPenalties(logits: Float32Array, counts: Map<number, number>, p: SamplingParams): void {
  if (!p.frequencyPenalty && !p.presencePenalty) return;
  for (const [id, c] of counts) logits[id]! -= c * p.frequencyPenalty + (c > 0 ? p.presencePenalty : 0);
}

export function argmax(v: Float32Array, allowed?: (id: number) => boolean): number {
  if (!allowed) {
    let b = 0;
    for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
    return b;
  }
  // best allowed: walk candidates from the top (usually the first few are allowed)
  const order = topIndices(v, Math.min(v.length, 64));
  for (const i of order) if (allowed(i)) return i;
  let best = -1;
  for (let i = 0; i < v.length; i++) if (v[i]! > -Infinity && (best < 0 || v[i]! > v[best]!) && allowed(i)) best = i;
  return best;
}

/** Indices of the k largest values, largest first. */
export function topIndices(v: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      if (idx.length === k) idx.sort((a, b) => v[b]! - v[a]!);
    } else if (v[i]! > v[idx[k - 1]!]!) {
      let j = k - 1;
      while (j > 0 && v[idx[j - 1]!]! < v[i]!) { idx[j] = idx[j - 1]!; j--; }
      idx[j] = i;
    }
  }
  if (idx.length < k) idx.sort((a, b) => v[b]! - v[a]!);
  return idx;
}

/**
 * The probability vector actually sampled from (dense, sums to 1). `logits` must already carry the
 * penalties. Greedy gives a one-hot vector, so rejection sampling works the same for both.
 */
export function distribution(logits: Float32Array, p: SamplingParams, out?: Float32Array): Float32Array {
  const V = logits.length;
  const probs = out ?? new Float32Array(V);
  probs.fill(0);
  if (p.temperature <= 0) {
    probs[argmax(logits)] = 1;
    return probs;
  }
  const t = Math.max(p.temperature, 1e-5);
  let keep: number[] | null = null;
  if (p.topK > 0 && p.topK < V) keep = topIndices(logits, p.topK);
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  if (keep) {
    for (const i of keep) { probs[i] = Math.exp((logits[i]! - max) / t); sum += probs[i]!; }
  } else {
    for (let i = 0; i < V; i++) { probs[i] = Math.exp((logits[i]! - max) / t); sum += probs[i]!; }
  }
  for (let i = 0; i < V; i++) probs[i]! /= sum;
  if (p.topP < 1) {
    // The nucleus never reaches tokens below ε = (1−top_p)/V: together they hold less than 1−top_p. Sort
    // the values of the rest natively, find the cut value, keep everything above it and, among tokens
    // exactly at it, the lowest indices until the mass is reached (the order a stable sort would give).
    const eps = (1 - p.topP) / V;
    let n = 0;
    for (let i = 0; i < V; i++) if (probs[i]! >= eps) n++;
    const vals = new Float32Array(n);
    n = 0;
    for (let i = 0; i < V; i++) if (probs[i]! >= eps) vals[n++] = probs[i]!;
    vals.sort();
    let cum = 0;
    let cut = vals[0] ?? 0;
    for (let j = n - 1; j >= 0; j--) {
      cum += vals[j]!;
      if (cum >= p.topP) { cut = vals[j]!; break; }
    }
    let kept = 0;
    for (let i = 0; i < V; i++) if (probs[i]! > cut) kept += probs[i]!;
    for (let i = 0; i < V; i++) {
      if (probs[i]! > cut) continue;
      if (probs[i] === cut && kept < p.topP) { kept += cut; continue; }
      probs[i] = 0;
    }
    for (let i = 0; i < V; i++) probs[i]! /= kept;
  }
  return probs;
}

/** Draws from a probability vector; `allowed` masks tokens (constrained decoding) by rejection. */
export function draw(probs: Float32Array, rng: Random, allowed?: (id: number) => boolean): number {
  let mass = 1;
  for (let attempt = 0; attempt < 64; attempt++) {
    let u = rng.next() * mass;
    let pick = -1;
    for (let i = 0; i < probs.length; i++) {
      u -= probs[i]!;
      if (u < 0 && probs[i]! > 0) { pick = i; break; }
    }
    if (pick < 0) for (let i = probs.length - 1; i >= 0; i--) if (probs[i]! > 0) { pick = i; break; }
    if (pick < 0) return -1;
    if (!allowed || allowed(pick)) return pick;
    mass -= probs[pick]!;
    probs[pick] = 0;
    if (mass <= 1e-12) break;
  }
  if (!allowed) return -1;
  // the model put (almost) no mass on allowed tokens: take the most likely allowed one
  let best = -1;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0 && allowed(i) && (best < 0 || probs[i]! > probs[best]!)) best = i;
  return best;
}

/** log_softmax of raw logits at `token`, and the top-n alternatives. */
export function logprobsOf(logits: Float32Array, token: number, n: number): { logprob: number; top: TokenLogprob[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const top = n > 0 ? topIndices(logits, n).map((t) => ({ token: t, logprob: logits[t]! - lse })) : [];
  return { logprob: logits[token]! - lse, top };
}
