// The `usage` object of responses: DeepSeek's cache fields (prompt_cache_hit/miss_tokens, which add up to
// prompt_tokens) next to OpenAI's (prompt_tokens_details.cached_tokens), plus reasoning tokens.

export interface TokenCounts {
  prompt: number;
  /** prompt tokens restored from the context cache */
  cached: number;
  completion: number;
  /** completion tokens spent inside <think>…</think> */
  reasoning: number;
}

export interface ApiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  prompt_cache_hit_tokens: number;
  prompt_cache_miss_tokens: number;
  completion_tokens_details: { reasoning_tokens: number };
}

export function apiUsage(c: TokenCounts): ApiUsage {
  const hit = Math.min(c.cached, c.prompt);
  return {
    prompt_tokens: c.prompt,
    completion_tokens: c.completion,
    total_tokens: c.prompt + c.completion,
    prompt_tokens_details: { cached_tokens: hit },
    prompt_cache_hit_tokens: hit,
    prompt_cache_miss_tokens: c.prompt - hit,
    completion_tokens_details: { reasoning_tokens: c.reasoning },
  };
}
