// llama.cpp through node-llama-cpp's prebuilt CPU binaries, behind the few calls the benchmark and the
// parity check need: load a GGUF, logits for every position of a prompt, timed prefill and decode.
// node-llama-cpp lives in bench/llamacpp/node_modules (npm run bench:setup), never in the package's deps.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function llamaCppInstalled(): boolean {
  return existsSync(join(here, 'node_modules', 'node-llama-cpp', 'package.json'));
}

type NLC = typeof import('node-llama-cpp');
type Token = import('node-llama-cpp').Token;
/** node-llama-cpp brands token ids; ours are plain numbers */
const tok = (t: number) => t as unknown as Token;
type Llama = Awaited<ReturnType<NLC['getLlama']>>;
type Model = Awaited<ReturnType<Llama['loadModel']>>;
type Context = Awaited<ReturnType<Model['createContext']>>;
type Sequence = ReturnType<Context['getSequence']>;

let llamaPromise: Promise<{ nlc: NLC; llama: Llama }> | null = null;

async function llama(threads: number): Promise<{ nlc: NLC; llama: Llama }> {
  if (!llamaCppInstalled()) throw new Error('node-llama-cpp is not installed: run `npm run bench:setup` first');
  llamaPromise ??= (async () => {
    const nlc = (await import('node-llama-cpp')) as NLC;
    // gpu:false, or it may pick a software Vulkan device; never build from source
    const l = await nlc.getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: nlc.LlamaLogLevel.error });
    return { nlc, llama: l };
  })();
  return llamaPromise;
}

/** llama.cpp's tokenization of each text with the GGUF's vocabulary (no BOS added). */
export async function llamaTokenize(gguf: string, texts: string[]): Promise<number[][]> {
  const { llama: l } = await llama(1);
  const model = await l.loadModel({ modelPath: gguf, gpuLayers: 0 });
  try {
    return texts.map((t) => [...model.tokenize(t)].map((x) => x as unknown as number));
  } finally {
    await model.dispose();
  }
}

export interface LlamaOptions {
  threads: number;
  contextSize: number;
  /** KV cache element type (llama.cpp's default is F16) */
  kvType?: 'F32' | 'F16' | 'BF16';
  flashAttention?: boolean;
  batchSize?: number;
  /** map the GGUF (default) or read it into memory, which lets llama.cpp repack weights for its CPU kernels */
  mmap?: boolean;
}

export class LlamaCppRunner {
  private constructor(private readonly model: Model, private readonly ctx: Context, readonly seq: Sequence,
    readonly info: { llamaCppRelease: string; gpu: string }) {}

  static async open(gguf: string, o: LlamaOptions): Promise<LlamaCppRunner> {
    const { llama: l } = await llama(o.threads);
    const model = await l.loadModel({ modelPath: gguf, gpuLayers: 0, useMmap: o.mmap ?? true });
    const ctx = await model.createContext({
      contextSize: o.contextSize,
      threads: { ideal: o.threads, min: o.threads },
      batchSize: o.batchSize ?? Math.min(512, o.contextSize),
      sequences: 1,
      flashAttention: o.flashAttention ?? false,
      ignoreMemorySafetyChecks: true,
      ...(o.kvType ? { experimentalKvCacheKeyType: o.kvType, experimentalKvCacheValueType: o.kvType } : {}),
    });
    const seq = ctx.getSequence();
    return new LlamaCppRunner(model, ctx, seq, { llamaCppRelease: l.llamaCppRelease.release, gpu: String(l.gpu) });
  }

  get contextSize(): number { return this.ctx.contextSize; }

  async reset(): Promise<void> {
    await this.seq.clearHistory();
  }

  /** Evaluates `tokens` after what the sequence holds and returns the logits after each of them (dense [n, V]). */
  async logitsAll(tokens: number[], V: number): Promise<Float32Array> {
    const out = new Float32Array(tokens.length * V);
    const res = await this.seq.controlledEvaluate(tokens.map((t) => [tok(t), { generateNext: { logits: true } }]));
    for (let i = 0; i < tokens.length; i++) {
      const m = res[i]?.next.logits;
      if (!m || m.size !== V) throw new Error(`llama.cpp returned ${m?.size ?? 0} logits for position ${i}, expected ${V}`);
      for (const [t, v] of m) out[i * V + (t as unknown as number)] = v;
    }
    return out;
  }

  /** Prefills `tokens` (logits only for the last one, as a generation would). */
  async prefill(tokens: number[]): Promise<void> {
    const input: Parameters<Sequence['controlledEvaluate']>[0] = tokens.map((t, i) =>
      (i === tokens.length - 1 ? [tok(t), { generateNext: { token: true, options: { temperature: 0 } } }] : tok(t)));
    await this.seq.controlledEvaluate(input);
  }

  /** One decode step: evaluates `token` and greedily picks the next (lm_head + sampling included). */
  async decode(token: number): Promise<number> {
    const r = await this.seq.controlledEvaluate([[tok(token), { generateNext: { token: true, options: { temperature: 0 } } }]]);
    return (r[0]?.next.token ?? -1) as unknown as number;
  }

  /** Drops positions from `n` on (to repeat a measurement at the same context length). */
  async truncate(n: number): Promise<void> {
    const len = this.seq.nextTokenIndex;
    if (n < len) await this.seq.eraseContextTokenRanges([{ start: n, end: len }]);
  }

  get length(): number { return this.seq.nextTokenIndex; }

  async close(): Promise<void> {
    await this.ctx.dispose();
    await this.model.dispose();
  }
}
