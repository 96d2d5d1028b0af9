// Token log-probabilities in the API's shapes: chat's {token, logprob, bytes, top_logprobs} entries and
// the legacy completions' parallel arrays.
import type { TokenLogprob } from '../engine/sampling.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

export interface LogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function tokenText(tk: Tokenizer, id: number): string {
  return tk.decode([id]);
}

function tokenByteArray(tk: Tokenizer, id: number): number[] {
  try {
    return Array.from(tk.tokenBytes(id));
  } catch {
    return Array.from(Buffer.from(tk.decode([id]), 'utf8'));
  }
}

export function logprobEntry(tk: Tokenizer, token: number, logprob: number, top: readonly TokenLogprob[] = []): LogprobEntry {
  return {
    token: tokenText(tk, token),
    logprob,
    bytes: tokenByteArray(tk, token),
    top_logprobs: top.map((t) => ({ token: tokenText(tk, t.token), logprob: t.logprob, bytes: tokenByteArray(tk, t.token) })),
  };
}

/** Legacy completions logprobs: tokens, token_logprobs, top_logprobs (token → logprob), text_offset. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export function completionLogprobs(entries: readonly LogprobEntry[], startOffset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = startOffset;
  for (const e of entries) {
    out.tokens.push(e.token);
    out.token_logprobs.push(e.logprob);
    out.top_logprobs.push(Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob])));
    out.text_offset.push(offset);
    offset += e.token.length;
  }
  return out;
}
