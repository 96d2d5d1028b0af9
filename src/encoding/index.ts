// DeepSeek-V3.2 prompt encoding and output parsing: public surface.
export { encodeMessages, renderMessage, dropThinking, attachTools, lastUserIndex } from './encoder.js';
export type { EncodeMessagesOptions } from './encoder.js';
export { CompletionParser, parseCompletion, completionToMessage, outputStartFor } from './parser.js';
export type { ParseEvent, ParsedCompletion, ParsedToolCall, ParserOptions } from './parser.js';
export { EncodingError } from './errors.js';
export { PyFloat, PyJsonError, pyJsonDumps, pyJsonLoads, pyJsonString, pyFloatRepr } from './pyjson.js';
export { parameterValueJson, schemaTypes } from './coerce.js';
export * as markers from './templates.js';
export type { Message, Tool, ToolCall, ToolFunction, ThinkingMode, Role, ContentPart, MessageContent } from './types.js';
