// The generation engine: a continuous-batching scheduler over the model. Each step runs one forward
// over every active sequence (prefill chunks, single decode tokens and MTP-verified pairs together);
// sequences join and leave between steps. Finished prefixes go to the context cache.
import { createHash } from 'node:crypto';
import type { DeepSeekModel, BatchItem } from '../model/model.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { StreamDecoder } from '../tokenizer/stream-decoder.js';
import { JsonConstraint, type JsonSchema } from './json-constraint.js';
import { BLOCK_TOKENS, PrefixCache } from './prefix-cache.js';
import { Random } from './random.js';
import type { SamplingParams } from './sampling.js';
import { type GenerateEvent, Sequence } from './sequence.js';
import { StopMatcher } from './stop.js';

export class EngineBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineBusyError';
  }
}

export interface GenerateRequest {
  /** prompt token ids (the encoder adds BOS) */
  prompt: number[];
  maxTokens?: number;
  sampling?: Partial<SamplingParams>;
  seed?: number;
  /** stop strings, matched on the decoded text (needs a tokenizer) */
  stop?: string[];
  /** token ids that end generation (default: the model's EOS) */
  stopTokens?: number[];
  /** top-N alternatives per token; undefined = no logprobs */
  logprobs?: number;
  /**
   * Constrain the output to a JSON object (json_object), optionally one valid for `schema`; from the start,
   * or only after `afterToken` was generated (e.g. `</think>` in thinking mode).
   */
  json?: boolean | { afterToken?: number; schema?: JsonSchema };
  /** MTP speculative decoding for this request (default: the engine's setting) */
  speculative?: boolean;
  signal?: AbortSignal;
}

export interface EngineOptions {
  tokenizer?: Tokenizer | null;
  prefixCache?: PrefixCache | null;
  /** sequences decoded together (default 8) */
  maxBatch?: number;
  /** requests waiting beyond the batch before new ones are refused (default 64) */
  maxQueue?: number;
  /**
   * MTP drafting when the model has an MTP layer: 'auto' (default) drafts, and stops drafting for a
   * sequence whose acceptance rate stays below `minAcceptance` (a rejected draft costs a wasted MTP pass
   * and verify row); true always drafts; false never.
   */
  speculative?: boolean | 'auto';
  /** acceptance rate below which 'auto' stops drafting, judged after 16 drafts (default 0.3) */
  minAcceptance?: number;
  /** prompt tokens per prefill chunk per step (default 256) */
  prefillChunk?: number;
  /** defaults for unspecified sampling parameters (e.g. from generation_config.json) */
  defaults?: Partial<SamplingParams>;
  /** tokens that end generation when a request names none (generation_config.json's eos_token_id) */
  stopTokens?: number[];
}

export interface EngineStats {
  steps: number;
  active: number;
  queued: number;
  draftTokens: number;
  acceptedTokens: number;
}

/** A fingerprint of the weights, so cached prefixes of one model never serve another. */
export function modelFingerprint(model: DeepSeekModel): string {
  const h = createHash('sha1').update(JSON.stringify(model.cfg.raw));
  const t = model.embed.table;
  h.update(t.bytes.subarray(0, Math.min(t.bytes.length, 1 << 16)));
  h.update(t.bytes.subarray(Math.max(0, t.bytes.length - (1 << 16))));
  return h.digest('hex').slice(0, 16);
}

export class Engine {
  readonly tokenizer: Tokenizer | null;
  readonly prefixCache: PrefixCache | null;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly speculative: boolean | 'auto';
  readonly minAcceptance: number;
  readonly prefillChunk: number;
  readonly defaults: SamplingParams;
  readonly stopTokens: number[];
  private queue: Sequence[] = [];
  private active: Sequence[] = [];
  private running = false;
  private nextId = 1;
  readonly stats: EngineStats = { steps: 0, active: 0, queued: 0, draftTokens: 0, acceptedTokens: 0 };

  constructor(readonly model: DeepSeekModel, opts: EngineOptions = {}) {
    this.tokenizer = opts.tokenizer ?? null;
    this.prefixCache = opts.prefixCache ?? null;
    this.maxBatch = opts.maxBatch ?? 8;
    this.maxQueue = opts.maxQueue ?? 64;
    this.speculative = model.mtp.length > 0 ? (opts.speculative ?? 'auto') : false;
    this.minAcceptance = opts.minAcceptance ?? 0.3;
    this.prefillChunk = opts.prefillChunk ?? 256;
    this.defaults = { temperature: 1, topP: 1, topK: 0, frequencyPenalty: 0, presencePenalty: 0, ...opts.defaults };
    this.stopTokens = opts.stopTokens ?? [model.cfg.eosTokenId];
  }

  get load(): { active: number; queued: number } {
    return { active: this.active.length, queued: this.queue.length };
  }

  /** Queues a request; the returned stream yields tokens and ends with a `done` event. */
  generate(req: GenerateRequest): AsyncIterable<GenerateEvent> {
    const cfg = this.model.cfg;
    if (!req.prompt.length) throw new RangeError('the prompt is empty');
    for (const t of req.prompt) if (!Number.isInteger(t) || t < 0 || t >= cfg.vocabSize) throw new RangeError(`prompt token ${t} is outside the vocabulary [0, ${cfg.vocabSize})`);
    if (req.prompt.length >= cfg.maxPositions) throw new RangeError(`the prompt has ${req.prompt.length} tokens; the model's context is ${cfg.maxPositions}`);
    if (req.stop?.length && !this.tokenizer) throw new Error('stop strings need a tokenizer');
    if (req.json && !this.tokenizer) throw new Error('JSON-constrained output needs a tokenizer');
    if (this.queue.length >= this.maxQueue) throw new EngineBusyError(`the queue is full (${this.maxQueue} requests waiting)`);
    const params: SamplingParams = { ...this.defaults, ...stripUndefined(req.sampling ?? {}) };
    const json = req.json ? new JsonConstraint({ object: true, schema: typeof req.json === 'object' ? req.json.schema : undefined }) : null;
    const tk = this.tokenizer;
    const maxTokens = Math.min(req.maxTokens ?? Infinity, cfg.maxPositions - req.prompt.length);
    if (!(maxTokens >= 1)) throw new RangeError(`max_tokens must be ≥ 1 (got ${req.maxTokens})`);
    const seq = new Sequence({
      id: this.nextId++,
      prompt: req.prompt,
      cache: this.model.newCache(),
      params,
      rng: new Random(req.seed ?? (Math.random() * 2 ** 32) >>> 0),
      maxTokens,
      stopTokens: new Set(req.stopTokens ?? this.stopTokens),
      stop: new StopMatcher(req.stop ?? []),
      decoder: tk ? new StreamDecoder(tk, { skipSpecial: false }) : null,
      logprobs: req.logprobs ?? null,
      constraint: json,
      constraintAfter: typeof req.json === 'object' ? req.json.afterToken ?? null : null,
      tokenBytes: tk ? (id) => (tk.specialIds.has(id) ? null : tk.tokenBytes(id)) : null,
      speculative: (req.speculative ?? this.speculative !== false) && this.model.mtp.length > 0 && !json,
      adaptive: req.speculative === undefined && this.speculative === 'auto',
      signal: req.signal,
    });
    this.queue.push(seq);
    this.kick();
    return seq.out;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.active.length || this.queue.length) {
        this.admit();
        if (this.active.length) this.step();
        this.stats.active = this.active.length;
        this.stats.queued = this.queue.length;
        // let I/O (new requests, disconnects, streaming writes) run between steps
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }

  private admit(): void {
    while (this.active.length < this.maxBatch && this.queue.length) {
      const seq = this.queue.shift()!;
      if (seq.s.signal?.aborted) { seq.finish('abort'); continue; }
      if (this.prefixCache) {
        const m = this.prefixCache.match(seq.s.prompt);
        // keep at least one prompt token to run, so the first logits come from the model
        const blocks = Math.min(m.nodes.length, Math.floor((seq.s.prompt.length - 1) / BLOCK_TOKENS));
        if (blocks > 0) {
          const withMtp = seq.s.speculative && m.hasMtp;
          const n = this.prefixCache.restore(m, seq.cache, blocks, withMtp);
          seq.fed = n;
          seq.usage.cachedTokens = n;
          if (withMtp) seq.mtpLen = n;
          else if (seq.s.speculative) seq.s.speculative = false; // no hidden states for the MTP to catch up on
        }
      }
      this.active.push(seq);
    }
  }

  /** One batched forward over every active sequence. */
  private step(): void {
    this.stats.steps++;
    const live = this.active.filter((s) => {
      if (s.s.signal?.aborted) s.finish('abort');
      return !s.finished;
    });
    const items: BatchItem[] = [];
    const plan: { seq: Sequence; kind: 'prefill' | 'decode' | 'verify'; n: number }[] = [];
    for (const seq of live) {
      if (seq.prefilling) {
        const n = Math.min(this.prefillChunk, seq.s.prompt.length - seq.fed);
        const last = seq.fed + n === seq.s.prompt.length;
        items.push({ tokens: seq.s.prompt.slice(seq.fed, seq.fed + n), startPos: seq.fed, cache: seq.cache, logits: last ? 'last' : 'none' });
        plan.push({ seq, kind: 'prefill', n });
        continue;
      }
      const pos = seq.s.prompt.length + seq.generated.length - 1; // position of the pending token
      if (seq.s.speculative && pos + 2 < this.model.cfg.maxPositions) this.draft(seq, pos);
      const tokens = seq.draft ? [seq.pending!, seq.draft.token] : [seq.pending!];
      items.push({ tokens, startPos: pos, cache: seq.cache, logits: 'all' });
      plan.push({ seq, kind: seq.draft ? 'verify' : 'decode', n: tokens.length });
    }
    let results;
    try {
      results = this.model.forwardBatch(items, { reuseOutputs: true }); // views: consumed within this step
    } catch (e) {
      for (const p of plan) { p.seq.finish('error', (e as Error).message); p.seq.cache.release(); }
      this.active = [];
      return;
    }
    const V = this.model.cfg.vocabSize;
    const D = this.model.cfg.hiddenSize;
    plan.forEach((p, i) => {
      const r = results[i]!;
      const seq = p.seq;
      if (seq.s.speculative) for (let s = 0; s < p.n; s++) seq.mtpHidden.push(r.hidden.slice(s * D, (s + 1) * D));
      if (p.kind === 'prefill') {
        seq.fed += p.n;
        if (seq.prefilling) return;
        // the MTP can process every prompt position whose next token is known (all but the last)
        if (seq.s.speculative) this.catchUpMtp(seq, seq.s.prompt.length - 2, false);
        this.prefixCache?.insert(seq.s.prompt, seq.cache, seq.fed, seq.mtpLen);
        seq.accept(seq.pick(r.logits), r.logits);
        return;
      }
      if (p.kind === 'decode') {
        const l = r.logits.subarray(0, V);
        seq.accept(seq.pick(l), l);
        return;
      }
      const l0 = r.logits.subarray(0, V);
      const l1 = r.logits.subarray(V, 2 * V);
      seq.usage.draftTokens++;
      this.stats.draftTokens++;
      const v = seq.verify(l0);
      const draft = seq.draft!;
      seq.draft = null;
      if (v.accepted) {
        seq.usage.acceptedTokens++;
        this.stats.acceptedTokens++;
        if (seq.accept(draft.token, l0)) seq.accept(seq.pick(l1), l1);
      } else {
        seq.mtpHidden.pop(); // the hidden state of the rejected draft's position is void
        seq.accept(v.token, l0);
      }
      const u = seq.usage;
      if (seq.s.adaptive && u.draftTokens >= 16 && u.acceptedTokens < this.minAcceptance * u.draftTokens) {
        seq.s.speculative = false; // drafting costs more than it saves for this sequence
        seq.mtpHidden = [];
      }
    });
    for (const seq of live) {
      if (!seq.finished) continue;
      if (this.prefixCache) {
        const n = Math.min(seq.cache.length, seq.s.prompt.length + seq.generated.length);
        const tokens = Array.from({ length: n }, (_, i) => seq.tokenAt(i));
        this.prefixCache.insert(tokens, seq.cache, n, Math.min(seq.mtpLen, n));
      }
      seq.cache.release(); // backend memory back now, not at garbage collection
    }
    this.active = this.active.filter((s) => !s.finished);
  }

  /**
   * Runs the MTP layer over positions mtpLen..upTo (each with the main hidden state there and the next
   * token) so its cache is complete; with `draft`, the last row's logits propose the next token.
   */
  private catchUpMtp(seq: Sequence, upTo: number, draft: boolean): Float32Array | null {
    const mtp = this.model.mtp[0]!;
    const D = this.model.cfg.hiddenSize;
    const from = seq.mtpLen;
    const n = upTo - from + 1;
    if (n <= 0) return null;
    if (seq.mtpHidden.length < n) { seq.s.speculative = false; return null; }
    const h = new Float32Array(n * D);
    for (let i = 0; i < n; i++) h.set(seq.mtpHidden[i]!, i * D);
    const next = Array.from({ length: n }, (_, i) => (from + i + 1 < seq.s.prompt.length + seq.generated.length ? seq.tokenAt(from + i + 1) : seq.pending!));
    const r = mtp.forward(this.model.backend, h, next, from, seq.cache.mtp[0]!);
    seq.mtpHidden = seq.mtpHidden.slice(n);
    seq.mtpLen = upTo + 1;
    if (!draft) return null;
    const V = this.model.cfg.vocabSize;
    return r.logits.subarray((n - 1) * V, n * V);
  }

  /** Proposes one draft token for the position after the pending one. */
  private draft(seq: Sequence, pos: number): void {
    // the MTP at position pos−1 sees h(pos−1) and the pending token at pos, and predicts pos+1
    const logits = this.catchUpMtp(seq, pos - 1, true);
    if (!logits) return;
    const q = seq.dist(logits);
    const token = seq.s.params.temperature <= 0 ? argmaxOf(q) : drawFrom(q, seq.s.rng);
    seq.draft = { token, q };
  }
}

function argmaxOf(v: Float32Array): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

function drawFrom(p: Float32Array, rng: Random): number {
  let u = rng.next();
  for (let i = 0; i < p.length; i++) { u -= p[i]!; if (u < 0 && p[i]! > 0) return i; }
  for (let i = p.length - 1; i >= 0; i--) if (p[i]! > 0) return i;
  return 0;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
