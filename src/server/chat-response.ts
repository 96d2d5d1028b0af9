// Chat completion bodies: the whole `chat.completion` object, or `chat.completion.chunk`s for SSE
// (role first, then reasoning_content / content / tool_calls[index] deltas, then finish_reason, and an
// optional usage chunk with empty choices).
import { randomUUID } from 'node:crypto';
import type { ChatEvent, ChatOutcome } from './chat-run.js';
import type { LogprobEntry } from './logprobs.js';
import { apiUsage, type ApiUsage } from './usage.js';

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  system_fingerprint: string;
}

export function responseMeta(model: string, fingerprint: string, prefix = 'chatcmpl'): ResponseMeta {
  return { id: `${prefix}-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model, system_fingerprint: `fp_${fingerprint.slice(0, 10)}` };
}

type FinishReason = Exclude<ChatOutcome['finishReason'], 'abort'>;
const finishOf = (o: ChatOutcome): FinishReason => (o.finishReason === 'abort' ? 'stop' : o.finishReason);

interface ToolCallOut {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletion extends ResponseMeta {
  object: 'chat.completion';
  choices: {
    index: 0;
    message: { role: 'assistant'; content: string | null; reasoning_content?: string | null; tool_calls?: ToolCallOut[] };
    logprobs: { content: LogprobEntry[] } | null;
    finish_reason: FinishReason;
  }[];
  usage: ApiUsage;
}

/** Collects the events of a run into one non-streamed completion. */
export class ChatCompletionBuilder {
  private content = '';
  private reasoning = '';
  private readonly toolCalls: ToolCallOut[] = [];
  private readonly logprobs: LogprobEntry[] = [];

  constructor(private readonly meta: ResponseMeta, private readonly opts: { thinking: boolean; logprobs: boolean }) {}

  add(ev: ChatEvent): void {
    if (ev.logprobs) this.logprobs.push(...ev.logprobs);
    if (ev.type === 'content') this.content += ev.text;
    else if (ev.type === 'reasoning') this.reasoning += ev.text;
    else this.toolCalls.push({ id: ev.id, type: 'function', function: { name: ev.name, arguments: ev.arguments } });
  }

  build(outcome: ChatOutcome): ChatCompletion {
    const message: ChatCompletion['choices'][0]['message'] = { role: 'assistant', content: this.content };
    if (this.opts.thinking || this.reasoning) message.reasoning_content = this.reasoning;
    if (this.toolCalls.length) message.tool_calls = this.toolCalls;
    return {
      ...this.meta,
      object: 'chat.completion',
      choices: [{ index: 0, message, logprobs: this.opts.logprobs ? { content: this.logprobs } : null, finish_reason: finishOf(outcome) }],
      usage: apiUsage(outcome.counts),
    };
  }
}

export interface ChatChunk extends ResponseMeta {
  object: 'chat.completion.chunk';
  choices: { index: 0; delta: Record<string, unknown>; logprobs: { content: LogprobEntry[] } | null; finish_reason: FinishReason | null }[];
  usage?: ApiUsage | null;
}

/** Makes the SSE chunks of one streamed completion. */
export class ChatChunker {
  constructor(private readonly meta: ResponseMeta, private readonly opts: { thinking: boolean; includeUsage: boolean }) {}

  private chunk(delta: Record<string, unknown>, logprobs: LogprobEntry[] | undefined = undefined, finish: FinishReason | null = null): ChatChunk {
    const c: ChatChunk = {
      ...this.meta,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, logprobs: logprobs ? { content: logprobs } : null, finish_reason: finish }],
    };
    if (this.opts.includeUsage) c.usage = null;
    return c;
  }

  role(): ChatChunk {
    return this.chunk(this.opts.thinking ? { role: 'assistant', content: null, reasoning_content: '' } : { role: 'assistant', content: '' });
  }

  delta(ev: ChatEvent): ChatChunk {
    if (ev.type === 'reasoning') return this.chunk({ reasoning_content: ev.text }, ev.logprobs);
    if (ev.type === 'content') return this.chunk({ content: ev.text }, ev.logprobs);
    return this.chunk({
      tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: ev.arguments } }],
    }, ev.logprobs);
  }

  finish(outcome: ChatOutcome): ChatChunk {
    return this.chunk({}, undefined, finishOf(outcome));
  }

  /** The include_usage chunk: no choices, just usage. */
  usage(outcome: ChatOutcome): ChatChunk {
    return { ...this.meta, object: 'chat.completion.chunk', choices: [], usage: apiUsage(outcome.counts) };
  }
}
