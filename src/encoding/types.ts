// Chat messages as the OpenAI/DeepSeek API carries them, and as the V3.2 encoder reads them.

export type ThinkingMode = 'chat' | 'thinking';

export type Role = 'system' | 'user' | 'developer' | 'assistant' | 'tool';

/** OpenAI content part; only text parts can be encoded. */
export interface ContentPart {
  type: string;
  text?: string;
}

export type MessageContent = string | ContentPart[] | null | undefined;

/** The `function` object of a tool; emitted verbatim (as Python JSON) into the tools block. */
export interface ToolFunction {
  name: string;
  description?: string;
  parameters?: unknown;
  [key: string]: unknown;
}

export interface Tool {
  type?: string;
  function: ToolFunction;
}

export interface ToolCall {
  id?: string;
  type?: string;
  /** `arguments` is a JSON object text (as in the API) or an already parsed object. */
  function: { name: string; arguments: string | Record<string, unknown> };
}

export interface Message {
  role: Role | string;
  content?: MessageContent;
  reasoning_content?: string | null;
  tool_calls?: ToolCall[] | null;
  tool_call_id?: string;
  /** On system/developer messages: the tools block to render (the caller attaches request tools). */
  tools?: Tool[] | null;
  /** On system/developer messages: rendered as the "## Response Format" block. */
  response_format?: unknown;
  name?: string;
  /** Beta chat-prefix completion: the last assistant message is an unfinished prefix to continue. */
  prefix?: boolean;
}
