// dsv32 generate: raw completion of a prompt, streamed to stdout; statistics to stderr.
import type { Command } from 'commander';
import { Engine } from '../../engine/engine.js';
import { prefixCacheFor } from '../../runtime/runtime.js';
import { addModelOptions, loadForCli, type ModelFlags, parseNumber } from '../util.js';

export interface SamplingFlags {
  maxTokens?: string;
  temperature?: string;
  topP?: string;
  topK?: string;
  seed?: string;
  mtp?: boolean;
  cacheDir?: string;
}

export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .option('--max-tokens <n>', 'tokens to generate at most')
    .option('--temperature <t>', 'sampling temperature (0 = greedy; default from generation_config.json)')
    .option('--top-p <p>', 'nucleus sampling mass')
    .option('--top-k <k>', 'keep only the k most likely tokens')
    .option('--seed <n>', 'random seed for reproducible sampling')
    .option('--no-mtp', 'turn MTP speculative decoding off')
    .option('--cache-dir <dir>', 'persist the context cache in this folder (reused across runs)');
}

export function samplingFrom(o: SamplingFlags) {
  return {
    maxTokens: parseNumber(o.maxTokens, '--max-tokens', { min: 1, int: true }),
    seed: parseNumber(o.seed, '--seed', { min: 0, int: true }),
    sampling: {
      temperature: parseNumber(o.temperature, '--temperature', { min: 0, max: 2 }),
      topP: parseNumber(o.topP, '--top-p', { min: 0, max: 1 }),
      topK: parseNumber(o.topK, '--top-k', { min: 0, int: true }),
    },
  };
}

export function registerGenerate(program: Command): void {
  addSamplingOptions(addModelOptions(program
    .command('generate')
    .description('raw completion of a prompt, streamed')
    .argument('<prompt>', 'prompt text (BOS is added)')))
    .option('--stats', 'print tokens/s, MTP acceptance and cache hits to stderr')
    .action(async (prompt: string, o: ModelFlags & SamplingFlags & { stats?: boolean }) => {
      const s = samplingFrom(o);
      const rt = await loadForCli(o);
      if (!rt.tokenizer) throw new Error(`${rt.dir}: no tokenizer.json beside the weights`);
      const engine = new Engine(rt.model, {
        tokenizer: rt.tokenizer,
        defaults: rt.defaults,
        stopTokens: rt.stopTokens,
        speculative: o.mtp === false ? false : 'auto',
        prefixCache: o.cacheDir ? prefixCacheFor(rt.model, { dir: o.cacheDir }) : null,
      });
      const ids = [rt.model.cfg.bosTokenId, ...rt.tokenizer.encode(prompt)];
      const t0 = performance.now();
      let first = 0;
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      for await (const ev of engine.generate({ prompt: ids, maxTokens: s.maxTokens ?? 256, seed: s.seed, sampling: s.sampling, signal: ac.signal })) {
        if (ev.type === 'token') {
          if (!first) first = performance.now();
          process.stdout.write(ev.text);
        } else {
          process.stdout.write('\n');
          const u = ev.usage;
          const secs = (performance.now() - (first || t0)) / 1000;
          if (o.stats) {
            process.stderr.write(`[${ev.finishReason}] prompt ${u.promptTokens} tokens (${u.cachedTokens} from cache), ` +
              `${u.completionTokens} generated, ${(Math.max(u.completionTokens - 1, 0) / Math.max(secs, 1e-9)).toFixed(1)} tok/s, ` +
              `time to first token ${((first - t0) / 1000).toFixed(2)} s` +
              (u.draftTokens ? `, MTP acceptance ${((100 * u.acceptedTokens) / u.draftTokens).toFixed(1)}% (${u.acceptedTokens}/${u.draftTokens})` : '') + '\n');
          }
        }
      }
      process.off('SIGINT', onSig);
      await rt.close();
    });
}
