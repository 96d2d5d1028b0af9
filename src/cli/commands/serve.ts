// dsv32 serve: the DeepSeek/OpenAI-compatible HTTP server (and the chat page at /) over one model folder.
import { basename } from 'node:path';
import type { Command } from 'commander';
import { createApp } from '../../server/app.js';
import { serveModel } from '../../server/served-model.js';
import { addModelOptions, loadForCli, type ModelFlags, parseNumber } from '../util.js';

interface ServeFlags extends ModelFlags {
  host: string;
  port: string;
  apiKey?: string[];
  cacheDir?: string;
  cacheMb: string;
  maxBatch: string;
  maxQueue: string;
  mtp?: boolean;
  logLevel: string;
}

export function registerServe(program: Command): void {
  addModelOptions(program
    .command('serve')
    .description('serve a model over the DeepSeek/OpenAI-compatible HTTP API (/v1/chat/completions, /beta/completions, /v1/models), with a chat page at /'))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8000')
    .option('--api-key <key...>', 'accepted API keys (Authorization: Bearer …); also DSV32_API_KEYS=k1,k2; none = no key needed')
    .option('--cache-dir <dir>', 'persist the context cache in this folder (reused across restarts)')
    .option('--cache-mb <n>', 'context cache memory budget in MiB', '256')
    .option('--max-batch <n>', 'sequences decoded together (continuous batching)', '8')
    .option('--max-queue <n>', 'requests waiting beyond the batch before 429', '64')
    .option('--no-mtp', 'turn MTP speculative decoding off')
    .option('--log-level <level>', 'fatal, error, warn, info or debug', 'warn')
    .action(async (o: ServeFlags) => {
      const port = parseNumber(o.port, '--port', { min: 0, max: 65535, int: true })!;
      const cacheMb = parseNumber(o.cacheMb, '--cache-mb', { min: 1, int: true })!;
      const maxBatch = parseNumber(o.maxBatch, '--max-batch', { min: 1, max: 1024, int: true })!;
      const maxQueue = parseNumber(o.maxQueue, '--max-queue', { min: 0, int: true })!;
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(o.logLevel)) throw new Error(`--log-level: unknown level "${o.logLevel}"`);
      const keys = [...(o.apiKey ?? []), ...(process.env.DSV32_API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean)];
      const rt = await loadForCli(o);
      if (!rt.tokenizer) throw new Error(`${rt.dir}: no tokenizer.json beside the weights (the server needs one)`);
      const served = serveModel(rt.model, rt.tokenizer, {
        id: basename(rt.dir),
        defaults: rt.defaults,
        stopTokens: rt.stopTokens,
        cacheDir: o.cacheDir,
        cacheBytes: cacheMb * 2 ** 20,
        maxBatch,
        maxQueue,
        speculative: o.mtp === false ? false : 'auto',
      });
      const app = createApp({ models: [served], apiKeys: keys, logger: { level: o.logLevel } });
      const url = await app.listen({ host: o.host, port });
      process.stderr.write(`dsv32: serving ${served.id} (context ${served.contextLength}, batch ${maxBatch}) at ${url}\n` +
        `  chat page ${url}/   API base ${url}/v1 (beta: ${url}/beta)${keys.length ? '' : '   no API key required'}\n`);
      const stop = () => { void app.close().then(() => rt.close()).then(() => process.exit(0)); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
