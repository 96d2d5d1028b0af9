// Request bodies of the API (api.md §4.1, §4.4) as zod schemas. Unknown fields are dropped (clients send
// OpenAI extras); a wrong type or range is a 422 naming the field. Conversation rules (roles, tool-call
// order, prefix placement) are the encoder's and come back as 400.
import { z } from 'zod';
import { badRequest, invalidParam } from './errors.js';

const temperature = z.number().min(0).max(2).nullish();
const topP = z.number().min(0).max(1).nullish();
const penalty = z.number().min(-2).max(2).nullish();
const maxTokens = z.int().min(1).nullish();
const stop = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
const streamOptions = z.object({ include_usage: z.boolean().nullish() }).nullish();

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const toolCall = z.object({
  id: z.string().nullish(),
  type: z.literal('function').nullish(),
  function: z.object({ name: z.string().min(1).max(64), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }),
});

export const messageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool', 'developer']),
  content: z.union([z.string(), z.array(contentPart)]).nullish(),
  name: z.string().nullish(),
  reasoning_content: z.string().nullish(),
  tool_calls: z.array(toolCall).max(128).nullish(),
  tool_call_id: z.string().nullish(),
  prefix: z.boolean().nullish(),
});

/** Function names go into a DSML attribute, so they are kept to OpenAI's safe alphabet. */
const functionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, underscores or dashes');

export const toolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: functionName,
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  }),
});

export const chatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1).max(4096),
  thinking: z.object({ type: z.enum(['enabled', 'disabled']) }).nullish(),
  frequency_penalty: penalty,
  presence_penalty: penalty,
  max_tokens: maxTokens,
  /** newer OpenAI clients send this instead of max_tokens */
  max_completion_tokens: maxTokens,
  response_format: z.object({ type: z.enum(['text', 'json_object', 'json_schema']), json_schema: z.looseObject({}).nullish() }).nullish(),
  stop,
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  temperature,
  top_p: topP,
  tools: z.array(toolSchema).max(128).nullish(),
  tool_choice: z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  ]).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  seed: z.int().nullish(),
});

export const fimRequestSchema = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  suffix: z.string().nullish(),
  echo: z.boolean().nullish(),
  frequency_penalty: penalty,
  presence_penalty: penalty,
  logprobs: z.int().min(0).max(20).nullish(),
  max_tokens: maxTokens,
  stop,
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  temperature,
  top_p: topP,
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  seed: z.int().nullish(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type FimRequest = z.infer<typeof fimRequestSchema>;
export type ChatMessage = z.infer<typeof messageSchema>;
export type ToolSpec = z.infer<typeof toolSchema>;

/** `messages[2].content` style name of a zod issue path. */
function paramName(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `${s ? '.' : ''}${String(p)}`;
  return s || 'body';
}

/** Validates a parsed JSON body: 400 when it is not an object at all, 422 naming the first bad field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = paramName(issue.path);
  const missing = issue.code === 'invalid_type' && (body as Record<string, unknown>)[String(issue.path[0])] === undefined && issue.path.length === 1;
  throw invalidParam(param, missing ? `missing required field: ${param}` : `invalid ${param}: ${issue.message}`);
}
