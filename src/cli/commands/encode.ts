// dsv32 encode: renders a conversation file into the exact DeepSeek-V3.2 prompt (or its token ids).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { attachTools, encodeMessages, pyJsonLoads } from '../../encoding/index.js';
import type { Message, Tool } from '../../encoding/index.js';
import { Tokenizer, deepseekV32 } from '../../tokenizer/index.js';

export interface EncodeCliOptions {
  input: string;
  thinking?: boolean;
  tokens?: boolean;
  tokenizer?: string;
  bos?: boolean;
}

/** The prompt text, or the token ids as a JSON array, for an input file {"messages", "tools"?, "response_format"?}. */
export function runEncode(opts: EncodeCliOptions): string {
  let raw: string;
  try {
    raw = readFileSync(opts.input, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${opts.input}: ${(e as Error).message}`);
  }
  let input: unknown;
  try {
    // Python-compatible parsing keeps floats such as 1.0 as written in the tools' schemas.
    input = pyJsonLoads(raw);
  } catch (e) {
    throw new Error(`${opts.input} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof input !== 'object' || input === null || !Array.isArray((input as { messages?: unknown }).messages)) {
    throw new Error(`${opts.input} must be an object with a "messages" array`);
  }
  const { messages, tools, response_format } = input as { messages: Message[]; tools?: Tool[]; response_format?: unknown };
  // As the official tests do: request-level tools go on the first (system) message.
  const prompt = encodeMessages(attachTools(messages, tools, response_format), {
    thinkingMode: opts.thinking ? 'thinking' : 'chat',
    addBos: opts.bos ?? true,
  });
  if (!opts.tokens) return prompt;
  const tok = opts.tokenizer ? Tokenizer.fromDir(opts.tokenizer) : deepseekV32();
  return JSON.stringify(tok.encode(prompt));
}

export function registerEncode(program: Command): void {
  program
    .command('encode')
    .description('render {"messages", "tools"?} as the DeepSeek-V3.2 prompt (exact text, no trailing newline) or its token ids')
    .requiredOption('--input <file>', 'JSON file with "messages" and optional "tools" / "response_format"')
    .option('--thinking', 'thinking mode (prompt ends with <think>); default chat mode')
    .option('--tokens', 'print the token ids as a JSON array instead of the text')
    .option('--tokenizer <dir>', 'directory with tokenizer.json (default: bundled DeepSeek-V3.2 vocabulary)')
    .option('--no-bos', 'do not start with the BOS token')
    .action((opts: EncodeCliOptions) => {
      process.stdout.write(runEncode(opts));
    });
}
