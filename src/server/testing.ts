// A real server on 127.0.0.1 (random port) over a synthetic tiny model and the repo's trained tokenizer,
// for tests and benchmarks that must not depend on a trained checkpoint.
import { join } from 'node:path';
import { f32ToBf16 } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';
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
  /** token id → factor for its lm_head row: a larger row makes the token likelier (e.g. </think>, so a
   *  random model ends its reasoning within a few dozen tokens) */
  scaleHeadRows?: Record<number, number>;
}

export interface TestServer {
  url: string;
  served: ServedModel;
  close(): Promise<void>;
}

function scaleRow(t: StoredTensor, row: number, factor: number): void {
  if (t.dtype !== 'BF16') throw new Error(`scaleHeadRows needs a BF16 lm_head (got ${t.dtype})`);
  const K = t.shape[1]!;
  const u = new Uint16Array(t.bytes.buffer, t.bytes.byteOffset + row * K * 2, K);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < K; i++) {
    bits[0] = u[i]! << 16;
    u[i] = f32ToBf16(f[0]! * factor);
  }
}

export function syntheticServedModel(opts: TestServerOptions = {}): ServedModel {
  const cfg = parseConfig(tinyConfigJson({ vocab_size: 8192, max_position_embeddings: 1024, ...opts.config }));
  const tensors = syntheticTensors(cfg, { seed: opts.seed ?? 1 });
  for (const [id, factor] of Object.entries(opts.scaleHeadRows ?? {})) scaleRow(tensors.get('lm_head.weight')!, Number(id), factor);
  const model = new DeepSeekModel(cfg, new MapSource(tensors), new PortableBackend());
  return serveModel(model, repoTokenizer(), { id: 'dsv32-synthetic', defaults: { temperature: 1, topP: 0.95 }, ...opts });
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const served = syntheticServedModel(opts);
  const app = createApp({ ...opts, models: [served] });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, served, close: () => app.close() };
}
