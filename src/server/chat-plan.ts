// From a validated chat request to what the engine runs: the V3.2 prompt (thinking mode, tools,
// response format, prefix completion), sampling, limits, and the tool-call forcing that tool_choice
// `required` / named asks for (the output is made to start with the DSML function-call block).
import { checkSchema, type JsonSchema, JsonSchemaError } from '../engine/json-constraint.js';
import type { GenerateRequest } from '../engine/engine.js';
import { attachTools, encodeMessages, EncodingError, markers, type Message, type Tool } from '../encoding/index.js';
import { badRequest, invalidParam } from './errors.js';
import type { ChatMessage, ChatRequest, ToolSpec } from './schemas.js';
import type { ServedModel } from './served-model.js';

/** DeepSeek's V3.2-era output limits: default / maximum max_tokens per mode. */
export const OUTPUT_LIMITS = { chat: { def: 4096, max: 8192 }, thinking: { def: 32768, max: 65536 } } as const;

export interface ToolForcing {
  /** text the output is made to start with (after the reasoning in thinking mode) */
  text: string;
  /** tool_choice named a function: exactly one call of it */
  named: string | null;
  /** the forced text is already a whole call (a named function without parameters) */
  complete: boolean;
}

export interface ChatPlan {
  model: ServedModel;
  /** the `model` string of the request, echoed in responses */
  modelName: string;
  thinking: boolean;
  promptText: string;
  promptIds: number[];
  /** chat mode with tool forcing: the tokens of forcing.text, run after the prompt as output */
  forcedIds: number[];
  /** where the output starts: inside reasoning (after <think>) or in content */
  startIn: 'reasoning' | 'content';
  tools: Tool[] | null;
  forcing: ToolForcing | null;
  maxTokens: number;
  gen: Omit<GenerateRequest, 'prompt' | 'signal' | 'maxTokens'>;
  stream: boolean;
  includeUsage: boolean;
}

function toMessage(m: ChatMessage): Message {
  const out: Message = { role: m.role };
  if (m.content !== undefined && m.content !== null) out.content = m.content;
  if (typeof m.reasoning_content === 'string') out.reasoning_content = m.reasoning_content;
  if (m.tool_calls?.length) out.tool_calls = m.tool_calls.map((c) => ({ id: c.id ?? undefined, type: 'function', function: c.function }));
  if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
  if (m.name) out.name = m.name;
  if (m.prefix === true) out.prefix = true;
  return out;
}

/** A function that takes no parameters at all, so a forced call of it is fully determined. */
function takesNoParameters(t: Tool): boolean {
  const p = t.function.parameters as { properties?: unknown } | undefined | null;
  if (!p) return true;
  const props = p.properties;
  return props === undefined || props === null || (typeof props === 'object' && Object.keys(props as object).length === 0);
}

function planForcing(req: ChatRequest, tools: Tool[] | null, prefix: boolean): ToolForcing | null {
  const choice = req.tool_choice;
  if (!choice || choice === 'auto' || choice === 'none') return null;
  if (!tools) throw invalidParam('tool_choice', 'tool_choice "required" or a named function needs tools');
  if (prefix) throw invalidParam('tool_choice', 'a tool call cannot be forced in a prefix completion');
  if (req.response_format && req.response_format.type !== 'text') {
    throw invalidParam('response_format', 'JSON output cannot be combined with a forced tool call');
  }
  const open = `\n\n${markers.FUNCTION_CALLS_OPEN}\n${markers.INVOKE_OPEN} name="`;
  if (choice === 'required') return { text: open, named: null, complete: false };
  const name = choice.function.name;
  const tool = tools.find((t) => t.function.name === name);
  if (!tool) throw invalidParam('tool_choice', `tool_choice names ${JSON.stringify(name)}, which is not in tools`);
  let text = `${open}${name}">\n`;
  const complete = takesNoParameters(tool);
  if (complete) text += `${markers.INVOKE_CLOSE}\n${markers.FUNCTION_CALLS_CLOSE}`;
  return { text, named: name, complete };
}

/** The request's `function` object with the fields the prompt shows, in the order the client wrote them. */
function promptFunction(validated: ToolSpec, written: unknown): Tool['function'] {
  const src = (typeof written === 'object' && written !== null ? written : validated.function) as Record<string, unknown>;
  const f = {} as Tool['function'];
  for (const k of Object.keys(src)) {
    if (k === 'name') f.name = validated.function.name;
    else if (k === 'description' && typeof src[k] === 'string') f.description = src[k];
    else if (k === 'parameters' && src[k]) f.parameters = src[k];
    else if (k === 'strict' && typeof src[k] === 'boolean') f.strict = src[k];
  }
  f.name = validated.function.name; // (written first, it keeps its place)
  return f;
}

/**
 * `written` holds tools / response_format as the Python-compatible parser read them (floats such as 1.0
 * kept), so the prompt matches the reference encoder's; the validated request decides everything else.
 */
export function planChat(req: ChatRequest, model: ServedModel, aliasThinking: boolean, written: Record<string, unknown> = {}): ChatPlan {
  const thinking = req.thinking ? req.thinking.type === 'enabled' : aliasThinking;
  const sp = model.special;
  if (thinking && (sp.thinkStart === undefined || sp.thinkEnd === undefined)) {
    throw invalidParam('thinking', `model ${model.id} has no <think> tokens, so thinking mode is unavailable`);
  }
  if (thinking && (req.logprobs || req.top_logprobs)) {
    throw invalidParam('logprobs', 'logprobs and top_logprobs are not supported in thinking mode');
  }
  if (req.top_logprobs && !req.logprobs) throw invalidParam('top_logprobs', 'top_logprobs needs logprobs: true');

  const messages = req.messages.map(toMessage);
  const last = messages[messages.length - 1]!;
  const prefix = last.prefix === true;
  if (last.role === 'assistant' && !prefix) {
    throw badRequest('the last message is an assistant turn; set prefix: true on it for a prefix completion, or end with a user or tool message', 'messages');
  }
  const writtenTools = Array.isArray(written.tools) && written.tools.length === req.tools?.length ? (written.tools as { function?: unknown }[]) : [];
  const tools: Tool[] | null = req.tools?.length
    ? req.tools.map((t, i) => ({ type: 'function', function: promptFunction(t, writtenTools[i]?.function) }))
    : null;
  const forcing = planForcing(req, tools, prefix);
  const rf = req.response_format;
  const json = rf?.type === 'json_object' || rf?.type === 'json_schema';
  // a schema is shown to the model in the system prompt's "Response Format" block; json_object relies
  // on the prompt asking for JSON (as DeepSeek's JSON mode does)
  const writtenRf = written.response_format as { json_schema?: unknown } | undefined;
  const schemaBlock = rf?.type === 'json_schema' && rf.json_schema ? { type: 'json_schema', json_schema: writtenRf?.json_schema ?? rf.json_schema } : undefined;
  // json_schema is also enforced while decoding (OpenAI's shape: {name, schema, strict})
  const schema = rf?.type === 'json_schema' ? (rf.json_schema?.schema as JsonSchema | undefined) : undefined;
  if (schema !== undefined) {
    try {
      checkSchema(schema);
    } catch (e) {
      if (e instanceof JsonSchemaError) throw invalidParam('response_format.json_schema.schema', e.message);
      throw e;
    }
  }

  let promptText: string;
  try {
    promptText = encodeMessages(attachTools(messages, tools, schemaBlock), { thinkingMode: thinking ? 'thinking' : 'chat' });
  } catch (e) {
    if (e instanceof EncodingError) throw badRequest(e.message, 'messages');
    throw e;
  }
  const reasoningOpen = thinking && promptText.lastIndexOf(markers.THINK_START) > promptText.lastIndexOf(markers.THINK_END);
  const startIn: ChatPlan['startIn'] = reasoningOpen ? 'reasoning' : 'content';

  const promptIds = model.tokenizer.encode(promptText);
  // chat mode: the forced opener is fed after the prompt; thinking mode forces it after the reasoning
  const forcedIds = forcing && startIn === 'content' ? model.tokenizer.encode(forcing.text, { allowSpecial: false }) : [];
  const total = promptIds.length + forcedIds.length;
  if (total >= model.contextLength) {
    throw badRequest(`This model's maximum context length is ${model.contextLength} tokens; the messages come to ${total} tokens. Shorten the messages.`, 'messages', 'context_length_exceeded');
  }

  const limits = thinking ? OUTPUT_LIMITS.thinking : OUTPUT_LIMITS.chat;
  const asked = req.max_tokens ?? req.max_completion_tokens ?? null;
  if (asked !== null && asked > limits.max) {
    throw invalidParam(req.max_tokens != null ? 'max_tokens' : 'max_completion_tokens', `the valid range of max_tokens is [1, ${limits.max}] in ${thinking ? 'thinking' : 'non-thinking'} mode`);
  }
  const maxTokens = Math.min(asked ?? limits.def, model.contextLength - promptIds.length);

  const stop = (typeof req.stop === 'string' ? [req.stop] : req.stop ?? []).filter((s) => s.length > 0);
  // tool_choice none: the tools stay in the prompt, but a call is never started
  if (tools && req.tool_choice === 'none') stop.push(markers.TOOL_CALLS_START);

  const gen: ChatPlan['gen'] = {
    // thinking mode ignores temperature / top_p / penalties (DeepSeek V3.2), so the model's defaults apply
    sampling: thinking ? {} : {
      temperature: req.temperature ?? undefined,
      topP: req.top_p ?? undefined,
      frequencyPenalty: req.frequency_penalty ?? undefined,
      presencePenalty: req.presence_penalty ?? undefined,
    },
    seed: req.seed ?? undefined,
    stop,
    logprobs: req.logprobs ? req.top_logprobs ?? 0 : undefined,
    json: !json ? undefined
      : thinking && startIn === 'reasoning' || schema ? { ...(thinking && startIn === 'reasoning' ? { afterToken: sp.thinkEnd! } : {}), ...(schema ? { schema } : {}) }
      : true,
  };

  return {
    model,
    modelName: req.model,
    thinking,
    promptText,
    promptIds,
    forcedIds,
    startIn,
    tools,
    forcing,
    maxTokens,
    gen,
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
  };
}
