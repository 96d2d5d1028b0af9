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
  if (p.topP < 1) nucleusInPlace(probs, p.topP);
  return probs;
}

/**
 * Top-p on a normalised probability vector, in place: keeps the smallest set of most likely tokens whose
 * mass reaches topP (ties broken towards lower ids, as a stable sort would), renormalised. Linear time:
 * positive floats order like their bit patterns, so a histogram over the top bits finds the bucket where
 * the mass crosses topP, and only that bucket is sorted.
 */
export function nucleusInPlace(probs: Float32Array, topP: number): void {
  const V = probs.length;
  const bits = new Int32Array(probs.buffer, probs.byteOffset, V);
  const SHIFT = 19; // 8 exponent + 4 mantissa bits: 4096 buckets
  const mass = new Float64Array(1 << 12);
  for (let i = 0; i < V; i++) if (probs[i]! > 0) mass[bits[i]! >>> SHIFT]! += probs[i]!;
  let cum = 0;
  let b = mass.length - 1;
  for (; b > 0; b--) {
    if (cum + mass[b]! >= topP) break;
    cum += mass[b]!;
  }
  // the crossing bucket, sorted by probability (desc) then id (asc)
  const inB: number[] = [];
  for (let i = 0; i < V; i++) if (probs[i]! > 0 && bits[i]! >>> SHIFT === b) inB.push(i);
  inB.sort((x, y) => probs[y]! - probs[x]! || x - y);
  const keepB = new Set<number>();
  for (const i of inB) {
    keepB.add(i);
    cum += probs[i]!;
    if (cum >= topP) break;
  }
  let kept = 0;
  for (let i = 0; i < V; i++) {
    const k = bits[i]! >>> SHIFT;
    if (probs[i]! > 0 && (k > b || (k === b && keepB.has(i)))) kept += probs[i]!;
    else probs[i] = 0;
  }
  for (let i = 0; i < V; i++) probs[i]! /= kept;
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
