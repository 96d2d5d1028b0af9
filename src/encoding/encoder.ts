// DeepSeek-V3.2 prompt encoding: the semantics of encode_messages / render_message in the official
// encoding_dsv32.py, with Python-compatible JSON, plus checks that turn impossible conversations
// into EncodingError instead of a silently broken prompt.
import { EncodingError } from './errors.js';
import { PyFloat, pyJsonDumps, pyJsonLoads, pyKeys, PyJsonError } from './pyjson.js';
import {
  ASSISTANT, BOS, DEVELOPER_USER_PREFIX, DSML, EOS, RESPONSE_FORMAT_HEADER, THINK_END, THINK_START, USER, toolsBlock,
} from './templates.js';
import type { Message, MessageContent, ThinkingMode, Tool, ToolCall } from './types.js';

export interface EncodeMessagesOptions {
  /** 'thinking' opens <think> after the last user turn; 'chat' always closes it. Default 'chat'. */
  thinkingMode?: ThinkingMode;
  /** Drop reasoning_content of assistant turns before the last user turn (default true). */
  dropThinking?: boolean;
  /** Start with BOS when there is no context (default true). */
  addBos?: boolean;
  /** Earlier messages already in the prompt (e.g. a cached prefix): only `messages` are rendered,
   *  but roles, tool-call order and the last user turn are judged over context + messages. */
  context?: readonly Message[];
}

const ROLES = new Set(['system', 'user', 'developer', 'assistant', 'tool']);

// Python truthiness, which the official encoder uses for optional fields.
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function where(index: number, msg: Message): string {
  return `messages[${index}] (${String(msg.role)})`;
}

/** Text of a message's content: a string, text parts joined by newlines, or null when absent. */
function contentText(content: MessageContent, at: string): string | null {
  if (content === null || content === undefined) return null;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p, i) => {
        if (typeof p !== 'object' || p === null || p.type !== 'text' || typeof p.text !== 'string') {
          throw new EncodingError(`${at}: content[${i}] is not a text part (only text can be encoded)`);
        }
        return p.text;
      })
      .join('\n');
  }
  throw new EncodingError(`${at}: content must be a string or an array of text parts`);
}

function jsonOf(value: unknown, at: string): string {
  try {
    return pyJsonDumps(value);
  } catch (e) {
    throw new EncodingError(`${at}: ${(e as Error).message}`);
  }
}

function renderTools(tools: unknown, at: string): string {
  if (!Array.isArray(tools)) throw new EncodingError(`${at}: tools must be an array`);
  const lines = tools.map((t: Tool, i) => {
    if (typeof t !== 'object' || t === null || typeof t.function !== 'object' || t.function === null) {
      throw new EncodingError(`${at}: tools[${i}] has no "function" object`);
    }
    return jsonOf(t.function, `${at} tools[${i}]`);
  });
  return toolsBlock(lines.join('\n'));
}

function renderResponseFormat(rf: unknown, at: string): string {
  return RESPONSE_FORMAT_HEADER + jsonOf(rf, `${at} response_format`);
}

/** The arguments of a call as an ordered list of [name, value] (the JSON object's entries). */
function callArguments(call: ToolCall, at: string): [string, unknown][] {
  let args: unknown = call.function.arguments;
  if (typeof args === 'string') {
    try {
      args = pyJsonLoads(args);
    } catch (e) {
      throw new EncodingError(`${at}: arguments are not valid JSON (${(e as PyJsonError).message})`);
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof PyFloat) {
    throw new EncodingError(`${at}: arguments must be a JSON object`);
  }
  const obj = args as Record<string, unknown>;
  return pyKeys(obj).filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]);
}

function renderToolCalls(calls: ToolCall[], at: string): string {
  const invokes = calls.map((call, i) => {
    const cat = `${at} tool_calls[${i}]`;
    if (typeof call !== 'object' || call === null || typeof call.function !== 'object' || call.function === null) {
      throw new EncodingError(`${cat}: missing "function"`);
    }
    if (typeof call.function.name !== 'string') throw new EncodingError(`${cat}: function.name must be a string`);
    const params = callArguments(call, cat).map(([k, v]) => {
      const isStr = typeof v === 'string';
      const value = isStr ? v : jsonOf(v, `${cat} argument ${k}`);
      return `<${DSML}parameter name="${k}" string="${isStr ? 'true' : 'false'}">${value}</${DSML}parameter>`;
    });
    return `<${DSML}invoke name="${call.function.name}">\n${params.join('\n')}\n</${DSML}invoke>`;
  });
  return `\n\n<${DSML}function_calls>\n${invokes.join('\n')}\n</${DSML}function_calls>`;
}

/** Index of the last user or developer message, or -1. */
export function lastUserIndex(messages: readonly Message[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const r = messages[i]!.role;
    if (r === 'user' || r === 'developer') return i;
  }
  return -1;
}

function validate(messages: readonly Message[]): void {
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) throw new EncodingError(`messages[${i}] is not an object`);
    if (!ROLES.has(m.role as string)) throw new EncodingError(`messages[${i}]: unknown role ${JSON.stringify(m.role)}`);
    if (m.prefix === true && (m.role !== 'assistant' || i !== messages.length - 1)) {
      throw new EncodingError(`messages[${i}]: only the last message may be an assistant prefix`);
    }
    if (m.tool_calls !== undefined && m.tool_calls !== null && !Array.isArray(m.tool_calls)) {
      throw new EncodingError(`${where(i, m)}: tool_calls must be an array`);
    }
    // A batch of tool results must be complete before the conversation moves on.
    if (m.role !== 'tool' && i > 0 && messages[i - 1]!.role === 'tool') {
      let a = i - 1;
      while (a >= 0 && messages[a]!.role === 'tool') a--;
      const calls = a >= 0 ? messages[a]!.tool_calls ?? [] : [];
      if (i - 1 - a < calls.length) {
        throw new EncodingError(`${where(i, m)}: only ${i - 1 - a} of ${calls.length} tool results were given before it`);
      }
    }
  });
}

/** Renders messages[index] given the whole conversation (render_message). */
export function renderMessage(index: number, messages: readonly Message[], thinkingMode: ThinkingMode): string {
  const msg = messages[index];
  if (!msg) throw new EncodingError(`no message at index ${index}`);
  const at = where(index, msg);
  const lastUser = lastUserIndex(messages);
  const thinking = thinkingMode === 'thinking';
  const content = contentText(msg.content, at);

  switch (msg.role) {
    case 'system': {
      let out = content ?? '';
      if (truthy(msg.tools)) out += '\n\n' + renderTools(msg.tools, at);
      if (truthy(msg.response_format)) out += '\n\n' + renderResponseFormat(msg.response_format, at);
      return out;
    }
    case 'developer': {
      if (!content) throw new EncodingError(`${at}: developer message needs content`);
      let inner = '';
      if (truthy(msg.tools)) inner += '\n\n' + renderTools(msg.tools, at);
      if (truthy(msg.response_format)) inner += '\n\n' + renderResponseFormat(msg.response_format, at);
      inner += DEVELOPER_USER_PREFIX + content;
      return USER + inner + ASSISTANT + (index === lastUser && thinking ? THINK_START : THINK_END);
    }
    case 'user': {
      if (content === null) throw new EncodingError(`${at}: user message needs content`);
      return USER + content + ASSISTANT + (index === lastUser && thinking ? THINK_START : THINK_END);
    }
    case 'tool': {
      if (content === null) throw new EncodingError(`${at}: tool message needs content`);
      let a = index - 1;
      while (a >= 0 && messages[a]!.role === 'tool') a--;
      const owner = a >= 0 ? messages[a]! : undefined;
      if (!owner || owner.role !== 'assistant') throw new EncodingError(`${at}: tool result without an assistant tool call before it`);
      const calls = owner.tool_calls ?? [];
      const order = index - a;
      if (calls.length < order) {
        throw new EncodingError(`${at}: tool result #${order} but messages[${a}] made ${calls.length} tool call(s)`);
      }
      let out = order === 1 ? '\n\n<function_results>' : '';
      out += `\n<result>${content}</result>`;
      if (order === calls.length) {
        out += '\n</function_results>\n\n' + (index >= lastUser && thinking ? THINK_START : THINK_END);
      }
      return out;
    }
    case 'assistant': {
      const calls = msg.tool_calls ?? [];
      if (msg.prefix === true && calls.length) throw new EncodingError(`${at}: a prefix message cannot carry tool_calls`);
      const toolCalls = calls.length ? renderToolCalls(calls, at) : '';
      const reasoning = typeof msg.reasoning_content === 'string' ? msg.reasoning_content : '';
      let thinkingPart = '';
      if (thinking && index > lastUser) {
        if (!reasoning && !calls.length && msg.prefix !== true) {
          throw new EncodingError(`${at}: in thinking mode an assistant turn after the last user message needs reasoning_content or tool_calls`);
        }
        // A prefix with reasoning but no content yet continues the reasoning, so </think> stays open.
        thinkingPart = msg.prefix === true && !content && reasoning ? reasoning : reasoning + THINK_END;
      }
      return thinkingPart + (content ?? '') + toolCalls + (msg.prefix === true ? '' : EOS);
    }
    default:
      throw new EncodingError(`${at}: unknown role`);
  }
}

/** encode_messages: BOS (only without context) + each message of `messages` rendered in the full conversation. */
export function encodeMessages(messages: readonly Message[], opts: EncodeMessagesOptions = {}): string {
  const thinkingMode = opts.thinkingMode ?? 'chat';
  if (thinkingMode !== 'chat' && thinkingMode !== 'thinking') {
    throw new EncodingError(`invalid thinkingMode ${JSON.stringify(thinkingMode)} (chat or thinking)`);
  }
  if (!Array.isArray(messages)) throw new EncodingError('messages must be an array');
  const context = opts.context ?? [];
  if (!Array.isArray(context)) throw new EncodingError('context must be an array');
  let full: Message[] = [...context, ...messages];
  validate(full);
  if (thinkingMode === 'thinking' && (opts.dropThinking ?? true)) full = dropThinking(full);
  let prompt = (opts.addBos ?? true) && context.length === 0 ? BOS : '';
  for (let i = 0; i < messages.length; i++) prompt += renderMessage(context.length + i, full, thinkingMode);
  return prompt;
}

/** Removes reasoning_content from assistant turns before the last user turn (drop_thinking_messages).
 *  Unlike the official helper it keeps developer messages, whose removal there shifts every index. */
export function dropThinking(messages: readonly Message[]): Message[] {
  const last = lastUserIndex(messages);
  return messages.map((m, i) => {
    if (m.role !== 'assistant' || i >= last || !('reasoning_content' in m)) return m;
    const { reasoning_content: _dropped, ...rest } = m;
    return rest;
  });
}

/** Attaches request-level tools / response_format to the first message when it is a system message
 *  (as the official tests do), or to a new empty system message put in front. */
export function attachTools(messages: readonly Message[], tools?: Tool[] | null, responseFormat?: unknown): Message[] {
  if (!truthy(tools) && !truthy(responseFormat)) return [...messages];
  const extra: Partial<Message> = {};
  if (truthy(tools)) extra.tools = tools;
  if (truthy(responseFormat)) extra.response_format = responseFormat;
  const first = messages[0];
  if (first && first.role === 'system') return [{ ...first, ...extra }, ...messages.slice(1)];
  return [{ role: 'system', content: '', ...extra }, ...messages];
}
