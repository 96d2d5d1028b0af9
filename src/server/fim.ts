// FIM (fill-in-the-middle) completion, DeepSeek's beta /completions: the prompt is laid out as
// BOS <｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜> and the model writes the middle; without a
// suffix it is a plain continuation of BOS + prompt. User text is tokenised as text, never as markup.
import type { GenerateRequest } from '../engine/engine.js';
import type { GenerateEvent } from '../engine/sequence.js';
import { badRequest, invalidParam } from './errors.js';
import { logprobEntry, type LogprobEntry } from './logprobs.js';
import type { FimRequest } from './schemas.js';
import type { ServedModel } from './served-model.js';
import type { TokenCounts } from './usage.js';

/** DeepSeek's FIM output limit. */
export const FIM_MAX_TOKENS = 4096;
export const FIM_DEFAULT_MAX_TOKENS = 1024;

export interface FimPlan {
  model: ServedModel;
  modelName: string;
  promptIds: number[];
  maxTokens: number;
  gen: Omit<GenerateRequest, 'prompt' | 'signal' | 'maxTokens'>;
  echo: string | null;
  logprobs: number | null;
  stream: boolean;
  includeUsage: boolean;
}

export function planFim(req: FimRequest, model: ServedModel, aliasThinking: boolean): FimPlan {
  if (aliasThinking) throw invalidParam('model', 'FIM completion is only available with the non-thinking model (deepseek-chat)');
  if (req.max_tokens != null && req.max_tokens > FIM_MAX_TOKENS) throw invalidParam('max_tokens', `the valid range of max_tokens is [1, ${FIM_MAX_TOKENS}] for FIM completion`);
  const tk = model.tokenizer;
  const sp = model.special;
  const text = (s: string) => tk.encode(s, { allowSpecial: false });
  const bos = tk.bosId !== undefined ? [tk.bosId] : [];
  let promptIds: number[];
  if (req.suffix) {
    if (sp.fimBegin === undefined || sp.fimHole === undefined || sp.fimEnd === undefined) {
      throw invalidParam('suffix', `model ${model.id} has no FIM tokens, so a suffix cannot be used`);
    }
    promptIds = [...bos, sp.fimBegin, ...text(req.prompt), sp.fimHole, ...text(req.suffix), sp.fimEnd];
  } else {
    promptIds = [...bos, ...text(req.prompt)];
  }
  if (promptIds.length >= model.contextLength) {
    throw badRequest(`This model's maximum context length is ${model.contextLength} tokens; the prompt comes to ${promptIds.length} tokens.`, 'prompt', 'context_length_exceeded');
  }
  return {
    model,
    modelName: req.model,
    promptIds,
    maxTokens: Math.min(req.max_tokens ?? FIM_DEFAULT_MAX_TOKENS, model.contextLength - promptIds.length),
    gen: {
      sampling: {
        temperature: req.temperature ?? undefined,
        topP: req.top_p ?? undefined,
        frequencyPenalty: req.frequency_penalty ?? undefined,
        presencePenalty: req.presence_penalty ?? undefined,
      },
      seed: req.seed ?? undefined,
      stop: (typeof req.stop === 'string' ? [req.stop] : req.stop ?? []).filter((s) => s.length > 0),
      logprobs: req.logprobs ?? undefined,
    },
    echo: req.echo ? req.prompt : null,
    logprobs: req.logprobs ?? null,
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
  };
}

export interface FimPiece {
  text: string;
  logprobs: LogprobEntry[];
}

export interface FimOutcome {
  finishReason: 'stop' | 'length' | 'insufficient_system_resource' | 'abort';
  counts: TokenCounts;
  error?: string;
}

/** One FIM generation; the engine request is queued by the constructor (a full queue throws there). */
export class FimRun implements AsyncIterable<FimPiece> {
  outcome: FimOutcome | null = null;
  private readonly stream: AsyncIterable<GenerateEvent>;

  constructor(private readonly plan: FimPlan, signal: AbortSignal) {
    this.stream = plan.model.engine.generate({ ...plan.gen, prompt: plan.promptIds, maxTokens: plan.maxTokens, signal });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FimPiece> {
    const tk = this.plan.model.tokenizer;
    const counts: TokenCounts = { prompt: this.plan.promptIds.length, cached: 0, completion: 0, reasoning: 0 };
    for await (const ev of this.stream) {
      if (ev.type === 'done') {
        counts.cached = ev.usage.cachedTokens;
        const r = ev.finishReason;
        this.outcome = { finishReason: r === 'error' ? 'insufficient_system_resource' : r, counts, ...(ev.error ? { error: ev.error } : {}) };
        return;
      }
      if (ev.token >= 0) counts.completion++;
      const logprobs = ev.token >= 0 && ev.logprob !== undefined ? [logprobEntry(tk, ev.token, ev.logprob, ev.top)] : [];
      if (ev.text || logprobs.length) yield { text: ev.text, logprobs };
    }
  }
}
