// A real server on 127.0.0.1 (random port) over a synthetic tiny model and the repo's trained tokenizer,
// for tests and benchmarks that must not depend on a trained checkpoint.
import { join } from 'node:path';
import { PortableBackend } from '../kernels/portable.js';
import { parseConfig } from '../model/config.js';
import { DeepSeekModel } from '../model/model.js';
import { MapSource, syntheticTensors } from '../model/synthetic.js';
import { repoRoot } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { createApp, type AppOptions } from './app.js';
import { serveModel, type ServedModel, type ServeModelOptions } from './served-model.js';

let tokenizer: Tokenizer | null = null;
export function repoTokenizer(): Tokenizer {
  tokenizer ??= Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
  return tokenizer;
}

export interface TestServerOptions extends ServeModelOptions, Omit<AppOptions, 'models'> {
  seed?: number;
  /** overrides of the tiny config (vocab 8192, 1024 positions by default) */
  config?: Record<string, unknown>;
}

export interface TestServer {
  url: string;
  served: ServedModel;
  close(): Promise<void>;
}

export function syntheticServedModel(opts: TestServerOptions = {}): ServedModel {
  const cfg = parseConfig(tinyConfigJson({ vocab_size: 8192, max_position_embeddings: 1024, ...opts.config }));
  const model = new DeepSeekModel(cfg, new MapSource(syntheticTensors(cfg, { seed: opts.seed ?? 1 })), new PortableBackend());
  return serveModel(model, repoTokenizer(), { id: 'dsv32-synthetic', defaults: { temperature: 1, topP: 0.95 }, ...opts });
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const served = syntheticServedModel(opts);
  const app = createApp({ ...opts, models: [served] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, served, close: () => app.close() };
}
