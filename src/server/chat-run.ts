// Runs a chat plan on the engine and turns generated text into API events (reasoning, content, tool
// calls, logprobs) through the streaming DSML parser. Tool forcing: in chat mode the DSML opener is fed
// after the prompt; in thinking mode the reasoning runs first (stopping at </think>), then the opener is
// appended and generation continues, so the answer must start with the function-call block. A named
// tool_choice ends at its first complete call.
import type { GenerateRequest } from '../engine/engine.js';
import type { GenerateEvent } from '../engine/sequence.js';
import { CompletionParser, markers, type ParseEvent } from '../encoding/index.js';
import type { ChatPlan } from './chat-plan.js';
import { logprobEntry, type LogprobEntry } from './logprobs.js';
import type { TokenCounts } from './usage.js';
import { randomBytes } from 'node:crypto';

export type ChatEvent =
  | { type: 'reasoning'; text: string; logprobs?: LogprobEntry[] }
  | { type: 'content'; text: string; logprobs?: LogprobEntry[] }
  | { type: 'tool_call'; index: number; id: string; name: string; arguments: string; logprobs?: LogprobEntry[] };

export type ChatFinish = 'stop' | 'length' | 'tool_calls' | 'insufficient_system_resource' | 'abort';

export interface ChatOutcome {
  finishReason: ChatFinish;
  counts: TokenCounts;
  /** set when the engine failed (the message is the engine's, for logs only) */
  error?: string;
}

const toolCallId = (index: number) => `call_${String(index).padStart(2, '0')}_${randomBytes(12).toString('base64url')}`;

interface PhaseResult {
  done: Extract<GenerateEvent, { type: 'done' }>;
  tokens: number[];
  text: string;
}

export class ChatRun implements AsyncIterable<ChatEvent> {
  outcome: ChatOutcome | null = null;
  private readonly counts: TokenCounts;
  private readonly parser: CompletionParser;
  private readonly phaseCtl = new AbortController();
  private readonly phaseSignal: AbortSignal;
  private readonly first: AsyncIterable<GenerateEvent> | null;
  private pendingLogprobs: LogprobEntry[] = [];
  private toolCalls = 0;
  private namedDone = false;
  private inReasoning: boolean;
  /** the generation only fills the context cache; its token is not part of the answer */
  private cacheOnly = false;

  /** Queues the first generation right away, so a full queue or a bad prompt throws before any reply. */
  constructor(private readonly plan: ChatPlan, signal: AbortSignal) {
    this.counts = { prompt: plan.promptIds.length, cached: 0, completion: 0, reasoning: 0 };
    this.parser = new CompletionParser({ startIn: plan.startIn, tools: plan.tools });
    this.phaseSignal = AbortSignal.any([signal, this.phaseCtl.signal]);
    this.inReasoning = plan.startIn === 'reasoning';
    const f = plan.forcing;
    if (f && plan.startIn === 'content') {
      // chat mode: the output is made to begin with the forced DSML text
      if (plan.maxTokens <= plan.forcedIds.length && !f.complete) this.first = null;
      // a complete forced call needs no new tokens, but the prompt still goes through the model so that
      // the context cache holds it for the next turn (one token is computed and dropped)
      else if (f.complete) { this.first = this.generate([...plan.promptIds, ...plan.forcedIds], 1); this.cacheOnly = true; }
      else this.first = this.generate([...plan.promptIds, ...plan.forcedIds], plan.maxTokens - plan.forcedIds.length);
    } else if (f) {
      // thinking mode: reason until </think> (or the end of sentence), then force the call
      const sp = plan.model.special;
      this.first = this.generate(plan.promptIds, plan.maxTokens, { stopTokens: [sp.eos, sp.thinkEnd!], json: undefined });
    } else {
      this.first = this.generate(plan.promptIds, plan.maxTokens);
    }
  }

  private generate(prompt: number[], maxTokens: number, extra: Partial<GenerateRequest> = {}): AsyncIterable<GenerateEvent> {
    return this.plan.model.engine.generate({ ...this.plan.gen, ...extra, prompt, maxTokens, signal: this.phaseSignal });
  }

  /** Parser events → API events, with any logprobs gathered so far attached to the first of them. */
  private *convert(events: ParseEvent[]): Generator<ChatEvent> {
    for (const ev of events) {
      const logprobs = this.takeLogprobs();
      if (ev.type === 'tool_call') {
        if (this.namedDone) continue;
        this.toolCalls++;
        yield { type: 'tool_call', index: ev.index, id: toolCallId(ev.index), name: ev.name, arguments: ev.arguments, ...logprobs };
        if (this.plan.forcing?.named) {
          // exactly one call of the named function: stop generating once it is complete
          this.namedDone = true;
          if (!this.cacheOnly) this.phaseCtl.abort();
        }
      } else {
        yield { type: ev.type === 'reasoning_content' ? 'reasoning' : 'content', text: ev.text, ...logprobs };
      }
    }
  }

  private takeLogprobs(): { logprobs?: LogprobEntry[] } {
    if (!this.pendingLogprobs.length) return {};
    const logprobs = this.pendingLogprobs;
    this.pendingLogprobs = [];
    return { logprobs };
  }

  /** Streams one engine generation into events; returns its end. */
  private async *phase(stream: AsyncIterable<GenerateEvent>): AsyncGenerator<ChatEvent, PhaseResult> {
    const tk = this.plan.model.tokenizer;
    const thinkEnd = this.plan.model.special.thinkEnd;
    const tokens: number[] = [];
    let text = '';
    for await (const ev of stream) {
      if (ev.type === 'done') return { done: ev, tokens, text };
      if (ev.token >= 0) {
        tokens.push(ev.token);
        this.counts.completion++;
        if (this.inReasoning) {
          this.counts.reasoning++;
          if (ev.token === thinkEnd) this.inReasoning = false;
        }
        if (ev.logprob !== undefined) this.pendingLogprobs.push(logprobEntry(tk, ev.token, ev.logprob, ev.top));
      }
      text += ev.text;
      if (!this.namedDone) yield* this.convert(this.parser.push(ev.text));
    }
    throw new Error('the engine stream ended without a done event');
  }

  private finishWith(finishReason: ChatFinish, error?: string): void {
    this.outcome = { finishReason, counts: this.counts, ...(error ? { error } : {}) };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChatEvent> {
    const plan = this.plan;
    const f = plan.forcing;
    let last: PhaseResult | null = null;
    if (f && plan.startIn === 'content') {
      this.counts.completion += plan.forcedIds.length;
      yield* this.convert(this.parser.push(f.text));
    }
    if (this.first && this.cacheOnly) {
      for await (const ev of this.first) if (ev.type === 'done') this.counts.cached = ev.usage.cachedTokens;
    } else if (this.first) {
      last = yield* this.phase(this.first);
      this.counts.cached = last.done.usage.cachedTokens;
      if (f && plan.startIn === 'reasoning' && last.done.finishReason === 'stop' && !this.cutByStopString(last)) {
        // the reasoning ended: close it and force the function-call block
        const sp = plan.model.special;
        const forced = plan.model.tokenizer.encode(f.text, { allowSpecial: false });
        this.counts.completion += 1 + forced.length;
        this.counts.reasoning += 1;
        this.inReasoning = false;
        yield* this.convert(this.parser.push(markers.THINK_END + f.text));
        const left = plan.maxTokens - this.counts.completion;
        if (!f.complete && left > 0) {
          let second: AsyncIterable<GenerateEvent>;
          try {
            second = this.generate([...plan.promptIds, ...last.tokens, sp.thinkEnd!, ...forced], left, { json: undefined });
          } catch (e) {
            yield* this.convert(this.parser.finish());
            return this.finishWith('insufficient_system_resource', (e as Error).message);
          }
          last = yield* this.phase(second);
        } else if (!f.complete) {
          last = null; // out of tokens right after the forced opener
        }
      }
    }
    if (!this.namedDone) yield* this.convert(this.parser.finish());
    const rest = this.takeLogprobs();
    if (rest.logprobs) yield { type: 'content', text: '', logprobs: rest.logprobs };
    if (this.namedDone || (!last && f?.complete)) return this.finishWith('tool_calls');
    if (!last) return this.finishWith('length');
    switch (last.done.finishReason) {
      case 'stop': return this.finishWith(this.toolCalls ? 'tool_calls' : 'stop');
      case 'length': return this.finishWith('length');
      case 'abort': return this.finishWith('abort');
      default: return this.finishWith('insufficient_system_resource', last.done.error ?? 'generation failed');
    }
  }

  /** Whether a stop string (not a stop token) ended the phase: the emitted text is then shorter. */
  private cutByStopString(r: PhaseResult): boolean {
    return !!this.plan.gen.stop?.length && this.plan.model.tokenizer.decode(r.tokens) !== r.text;
  }
}
