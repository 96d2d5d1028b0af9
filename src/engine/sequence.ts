// One generation request in flight: it owns its caches, its sampler state and its output stream.
// The scheduler (engine.ts) feeds it model outputs; this file decides tokens and what to emit.
import type { ModelCache } from '../model/cache.js';
import type { StreamDecoder } from '../tokenizer/stream-decoder.js';
import { Channel } from './channel.js';
import type { JsonConstraint } from './json-constraint.js';
import type { Random } from './random.js';
import { applyPenalties, argmax, distribution, draw, logprobsOf, type SamplingParams, type TokenLogprob } from './sampling.js';
import type { StopMatcher } from './stop.js';

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export interface Usage {
  promptTokens: number;
  /** prompt tokens restored from the context cache */
  cachedTokens: number;
  completionTokens: number;
  /** MTP drafts proposed / accepted */
  draftTokens: number;
  acceptedTokens: number;
}

export type GenerateEvent =
  | { type: 'token'; token: number; text: string; logprob?: number; top?: TokenLogprob[] }
  | { type: 'done'; finishReason: FinishReason; usage: Usage; error?: string };

export interface SequenceSetup {
  id: number;
  prompt: number[];
  cache: ModelCache;
  params: SamplingParams;
  rng: Random;
  maxTokens: number;
  stopTokens: Set<number>;
  stop: StopMatcher;
  decoder: StreamDecoder | null;
  logprobs: number | null;
  constraint: JsonConstraint | null;
  /** the constraint applies only after this token was generated (e.g. `</think>` in thinking mode) */
  constraintAfter: number | null;
  /** bytes of a token for the constraint; null for special tokens */
  tokenBytes: ((id: number) => Uint8Array | null) | null;
  speculative: boolean;
  /** speculation may be turned off for this sequence when drafts are rarely accepted */
  adaptive: boolean;
  signal?: AbortSignal;
}

export class Sequence {
  readonly out = new Channel<GenerateEvent>();
  readonly usage: Usage;
  /** prompt tokens already in the cache */
  fed = 0;
  /** sampled but not yet run through the model */
  pending: number | null = null;
  readonly generated: number[] = [];
  private readonly counts = new Map<number, number>();
  finished: FinishReason | null = null;
  /** main-model final hidden rows not yet consumed by the MTP layer, for positions mtpLen.. */
  mtpHidden: Float32Array[] = [];
  mtpLen = 0;
  /** the draft proposed for this step and its distribution */
  draft: { token: number; q: Float32Array } | null = null;
  private constraintOn: boolean;

  constructor(readonly s: SequenceSetup) {
    this.usage = { promptTokens: s.prompt.length, cachedTokens: 0, completionTokens: 0, draftTokens: 0, acceptedTokens: 0 };
    this.constraintOn = s.constraint !== null && s.constraintAfter === null;
  }

  get cache(): ModelCache { return this.s.cache; }
  get prefilling(): boolean { return this.fed < this.s.prompt.length; }
  /** all tokens whose positions are fixed: prompt + generated */
  tokenAt(i: number): number {
    return i < this.s.prompt.length ? this.s.prompt[i]! : this.generated[i - this.s.prompt.length]!;
  }

  /** token allowed by the constraint at this point (EOS only once the JSON is complete) */
  private allowed = (id: number): boolean => {
    const c = this.s.constraint!;
    if (this.s.stopTokens.has(id)) return c.complete;
    if (c.complete) return false;
    const b = this.s.tokenBytes?.(id) ?? null;
    return b !== null && c.accepts(b);
  };

  private constrained(): ((id: number) => boolean) | undefined {
    return this.constraintOn ? this.allowed : undefined;
  }

  /** The distribution to sample from for these raw logits (penalties, temperature, top-k/p). */
  dist(logits: Float32Array): Float32Array {
    const l = logits.slice();
    applyPenalties(l, this.counts, this.s.params);
    return distribution(l, this.s.params);
  }

  /** Picks the next token from raw logits (no draft involved). */
  pick(logits: Float32Array): number {
    const allowed = this.constrained();
    if (this.s.params.temperature <= 0) {
      const l = logits.slice();
      applyPenalties(l, this.counts, this.s.params);
      return argmax(l, allowed);
    }
    return draw(this.dist(logits), this.s.rng, allowed);
  }

  /**
   * Verifies this step's draft against the target logits: greedy accepts iff it is the argmax; sampling
   * accepts with probability min(1, p/q) and otherwise draws from the normalised residual max(0, p−q),
   * which keeps the output distribution exactly the target's.
   */
  verify(logits: Float32Array): { accepted: boolean; token: number } {
    const d = this.draft!;
    const p = this.dist(logits);
    if (this.s.params.temperature <= 0) {
      const t = argmax(p);
      return { accepted: t === d.token, token: t };
    }
    const pd = p[d.token]!;
    const qd = d.q[d.token]!;
    if (qd > 0 && this.s.rng.next() < Math.min(1, pd / qd)) return { accepted: true, token: d.token };
    let sum = 0;
    for (let i = 0; i < p.length; i++) { p[i] = Math.max(0, p[i]! - d.q[i]!); sum += p[i]!; }
    if (sum <= 0) return { accepted: false, token: draw(this.dist(logits), this.s.rng) };
    for (let i = 0; i < p.length; i++) p[i]! /= sum;
    return { accepted: false, token: draw(p, this.s.rng) };
  }

  /** Emits a chosen token (or finishes). Returns false once the sequence is finished. */
  accept(token: number, logits: Float32Array): boolean {
    if (this.finished) return false;
    if (this.s.signal?.aborted) { this.finish('abort'); return false; }
    if (this.s.stopTokens.has(token)) { this.finish('stop'); return false; }
    this.generated.push(token);
    this.usage.completionTokens++;
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    if (this.constraintOn) this.s.constraint!.feed(this.s.tokenBytes?.(token) ?? new Uint8Array());
    if (!this.constraintOn && this.s.constraint && token === this.s.constraintAfter) this.constraintOn = true;
    const piece = this.s.decoder ? this.s.decoder.push(token) : '';
    const { emit, stopped } = this.s.stop.push(piece);
    const ev: GenerateEvent = { type: 'token', token, text: emit };
    if (this.s.logprobs !== null) {
      const lp = logprobsOf(logits, token, this.s.logprobs);
      ev.logprob = lp.logprob;
      ev.top = lp.top;
    }
    this.out.push(ev);
    if (stopped) { this.finish('stop'); return false; }
    if (this.generated.length >= this.s.maxTokens) { this.finish('length'); return false; }
    if (this.constraintOn && this.s.constraint!.complete) { this.finish('stop'); return false; }
    this.pending = token;
    return true;
  }

  finish(reason: FinishReason, error?: string): void {
    if (this.finished) return;
    this.finished = reason;
    let tail = this.s.decoder ? this.s.stop.push(this.s.decoder.flush()).emit : '';
    tail += this.s.stop.flush();
    // a constrained answer cut short is closed so it still parses
    if (this.constraintOn && !this.s.constraint!.complete && reason === 'length') tail += this.s.constraint!.completion();
    if (tail) this.out.push({ type: 'token', token: -1, text: tail });
    this.out.push({ type: 'done', finishReason: reason, usage: { ...this.usage }, ...(error ? { error } : {}) });
    this.out.close();
  }
}
