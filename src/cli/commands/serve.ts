// dsv32 serve: the DeepSeek/OpenAI-compatible HTTP server (and chat page at /) over one model folder.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Backend } from '../../kernels/backend.js';
import { createApp } from '../../server/app.js';
import { loadServedModel } from '../../server/served-model.js';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_MODEL_DIR = `${packageRoot}models/dsv32-tiny`;

interface ServeOptions {
  model: string;
  host: string;
  port: string;
  apiKey?: string[];
  cacheDir?: string;
  cacheMb: string;
  maxBatch: string;
  maxQueue: string;
  backend: string;
  threads?: string;
  speculative: boolean;
  logLevel: string;
}

function positiveInt(v: string, flag: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min} (got "${v}")`);
  return n;
}

async function makeBackend(kind: string, threads: number | undefined): Promise<Backend | undefined> {
  if (kind === 'portable') return undefined;
  if (kind !== 'wasm') throw new Error(`--backend must be portable or wasm (got "${kind}")`);
  const { WasmBackend } = await import('../../kernels/wasm/backend.js');
  return WasmBackend.create({ threads });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over the DeepSeek/OpenAI-compatible HTTP API, with a chat page at /')
    .option('--model <dir>', 'model folder (config.json, safetensors, tokenizer.json, generation_config.json)', DEFAULT_MODEL_DIR)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free port)', '8000')
    .option('--api-key <key...>', 'accepted API keys (Authorization: Bearer); also DSV32_API_KEYS=k1,k2; none = open')
    .option('--cache-dir <dir>', 'persist the context cache in this folder')
    .option('--cache-mb <n>', 'context cache memory budget in MiB', '256')
    .option('--max-batch <n>', 'sequences decoded together', '8')
    .option('--max-queue <n>', 'requests waiting beyond the batch before 429', '64')
    .option('--backend <kind>', 'kernels: portable or wasm', 'portable')
    .option('--threads <n>', 'wasm backend threads')
    .option('--no-speculative', 'turn off MTP speculative decoding')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'warn')
    .action(async (o: ServeOptions) => {
      const port = positiveInt(o.port, '--port', 0);
      if (port > 65535) throw new Error('--port must be ≤ 65535');
      if (!existsSync(o.model)) {
        throw new Error(`model folder ${o.model} not found (train or download one, or pass --model DIR)`);
      }
      const keys = [...(o.apiKey ?? []), ...(process.env.DSV32_API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean)];
      const backend = await makeBackend(o.backend, o.threads ? positiveInt(o.threads, '--threads') : undefined);
      const served = loadServedModel(o.model, {
        backend,
        fallbackTokenizerDir: `${packageRoot}data/tokenizer`,
        cacheDir: o.cacheDir,
        cacheBytes: positiveInt(o.cacheMb, '--cache-mb') * 2 ** 20,
        maxBatch: positiveInt(o.maxBatch, '--max-batch'),
        maxQueue: positiveInt(o.maxQueue, '--max-queue', 0),
        speculative: o.speculative,
      });
      const app = createApp({ models: [served], apiKeys: keys, logger: { level: o.logLevel } });
      const url = await app.listen({ host: o.host, port });
      process.stderr.write(`dsv32: serving ${served.id} (context ${served.contextLength}, batch ${served.engine.maxBatch}) at ${url}  — chat page at ${url}/, API at ${url}/v1${keys.length ? '' : ' (no API key required)'}\n`);
      const stop = () => { void app.close().then(() => process.exit(0)); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
