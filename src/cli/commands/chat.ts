// dsv32 chat: an interactive conversation in the terminal. Reasoning is shown dimmed, tool calls are
// shown, earlier turns are served from the context cache. /reset, /save FILE, /thinking on|off, /exit;
// Ctrl-C stops the current answer, not the program.
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { CompletionParser, encodeMessages, outputStartFor } from '../../encoding/index.js';
import type { Message, ToolCall } from '../../encoding/types.js';
import { Engine } from '../../engine/engine.js';
import { prefixCacheFor } from '../../runtime/runtime.js';
import { addModelOptions, loadForCli, type ModelFlags } from '../util.js';
import { addSamplingOptions, type SamplingFlags, samplingFrom } from './generate.js';

const DIM = '\x1b[2m';
const CYAN = '\x1b[36m';
const RESET = '\x1b[0m';

export function registerChat(program: Command): void {
  addSamplingOptions(addModelOptions(program
    .command('chat')
    .description('interactive chat (reasoning dimmed; /reset, /save FILE, /thinking on|off, /exit; Ctrl-C stops an answer)')))
    .option('--thinking', 'thinking mode: the model reasons before answering')
    .option('--system <text>', 'a system prompt')
    .action(async (o: ModelFlags & SamplingFlags & { thinking?: boolean; system?: string }) => {
      const s = samplingFrom(o);
      const rt = await loadForCli(o);
      const tk = rt.tokenizer;
      if (!tk) throw new Error(`${rt.dir}: no tokenizer.json beside the weights`);
      const engine = new Engine(rt.model, {
        tokenizer: tk,
        defaults: rt.defaults,
        stopTokens: rt.stopTokens,
        speculative: o.mtp === false ? false : 'auto',
        prefixCache: prefixCacheFor(rt.model, o.cacheDir ? { dir: o.cacheDir } : {}),
      });
      let thinking = !!o.thinking;
      const fresh = (): Message[] => (o.system ? [{ role: 'system', content: o.system }] : []);
      let messages = fresh();
      let current: AbortController | null = null;
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
      const out = (t: string) => process.stdout.write(t);
      out(`${DIM}dsv32 chat — ${rt.dir} (${thinking ? 'thinking' : 'chat'} mode). /help for commands.${RESET}\n`);
      rl.on('SIGINT', () => {
        if (current) current.abort();
        else { out('\n'); rl.close(); }
      });
      rl.setPrompt('> ');
      rl.prompt();
      for await (const line of rl) {
        const text = line.trim();
        if (!text) { rl.prompt(); continue; }
        if (text.startsWith('/')) {
          const [cmd, ...rest] = text.split(/\s+/);
          if (cmd === '/exit' || cmd === '/quit') break;
          else if (cmd === '/reset') { messages = fresh(); out(`${DIM}(conversation reset)${RESET}\n`); }
          else if (cmd === '/save') {
            const file = rest[0] ?? 'chat.json';
            writeFileSync(file, JSON.stringify({ messages }, null, 2));
            out(`${DIM}(saved ${messages.length} messages to ${file})${RESET}\n`);
          } else if (cmd === '/thinking') {
            thinking = rest[0] !== 'off';
            out(`${DIM}(thinking ${thinking ? 'on' : 'off'})${RESET}\n`);
          } else out(`${DIM}/reset  /save FILE  /thinking on|off  /exit — Ctrl-C stops an answer${RESET}\n`);
          rl.prompt();
          continue;
        }
        messages.push({ role: 'user', content: text });
        const prompt = encodeMessages(messages, { thinkingMode: thinking ? 'thinking' : 'chat' });
        const parser = new CompletionParser({ thinkingMode: thinking ? 'thinking' : 'chat', startIn: outputStartFor(prompt) });
        let reasoning = '';
        let content = '';
        const toolCalls: ToolCall[] = [];
        let inReasoning = false;
        const show = (evs: ReturnType<CompletionParser['push']>) => {
          for (const ev of evs) {
            if (ev.type === 'reasoning_content') {
              if (!inReasoning) { out(DIM); inReasoning = true; }
              reasoning += ev.text;
              out(ev.text);
            } else {
              if (inReasoning) { out(`${RESET}\n`); inReasoning = false; }
              if (ev.type === 'content') { content += ev.text; out(ev.text); }
              else { toolCalls.push({ type: 'function', function: { name: ev.name, arguments: ev.arguments } }); out(`\n${CYAN}[tool call] ${ev.name}(${ev.arguments})${RESET}\n`); }
            }
          }
        };
        current = new AbortController();
        let note = '';
        try {
          for await (const ev of engine.generate({ prompt: tk.encode(prompt), maxTokens: s.maxTokens ?? 512, seed: s.seed, sampling: s.sampling, signal: current.signal })) {
            if (ev.type === 'token') show(parser.push(ev.text));
            else {
              show(parser.finish());
              const u = ev.usage;
              note = `${ev.finishReason === 'abort' ? 'stopped; ' : ev.finishReason === 'length' ? 'length limit; ' : ''}${u.completionTokens} tokens` +
                (u.cachedTokens ? `, ${u.cachedTokens} prompt tokens from cache` : '') +
                (u.draftTokens ? `, MTP ${u.acceptedTokens}/${u.draftTokens} accepted` : '');
            }
          }
        } catch (e) {
          note = `error: ${(e as Error).message}`;
        }
        current = null;
        if (inReasoning) out(RESET);
        out(`\n${DIM}(${note})${RESET}\n`);
        messages.push({ role: 'assistant', content, ...(reasoning ? { reasoning_content: reasoning } : {}), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) });
        rl.prompt();
      }
      rl.close();
      await rt.close();
    });
}
