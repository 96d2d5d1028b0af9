// Model folders and GGUF files for the llama.cpp comparisons, built once and cached under bench/out/:
// random checkpoints of a given config, config variants that share one safetensors file (a deepseek_v3 view
// of a V3.2 checkpoint, a dense V3.2 with index_topk past any context), and their GGUF exports.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportGguf, type ExportType } from '../../src/cli/commands/export-gguf.js';
import { parseConfig } from '../../src/model/config.js';
import { syntheticTensors, type WeightDType, writeCheckpoint } from '../../src/model/synthetic.js';

export const benchOut = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'out');

const hash = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 10);

/** A random checkpoint of `raw` (HF config JSON) in `dtype`, reused while config, dtype and seed are unchanged. */
export function syntheticModel(name: string, raw: Record<string, unknown>, dtype: WeightDType, seed = 1, log?: (s: string) => void): string {
  const dir = join(benchOut, `${name}-${dtype.toLowerCase()}-${hash([raw, dtype, seed])}`);
  if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'config.json'))) return dir;
  log?.(`generating ${dir} (random ${dtype} weights, cached for later runs)`);
  const t0 = Date.now();
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  writeCheckpoint(tmp, raw, syntheticTensors(parseConfig(raw), { dtype, seed, mtp: false }));
  renameSync(tmp, dir);
  log?.(`  ${(statSync(join(dir, 'model.safetensors')).size / 2 ** 30).toFixed(2)} GiB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return dir;
}

/** A folder with an edited config.json and the source's safetensors linked, not copied. */
export function configVariant(src: string, name: string, edit: (raw: Record<string, unknown>) => void): string {
  const raw = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(raw);
  const dir = join(benchOut, `${name}-${hash([resolve(src), raw])}`);
  mkdirSync(dir, { recursive: true });
  const text = JSON.stringify(raw, null, 2);
  const cfgPath = join(dir, 'config.json');
  // rewritten only when it changes: its mtime decides whether the GGUF export is stale
  if (!existsSync(cfgPath) || readFileSync(cfgPath, 'utf8') !== text) writeFileSync(cfgPath, text);
  const link = join(dir, 'model.safetensors');
  if (!existsSync(link)) symlinkSync(resolve(src, 'model.safetensors'), link);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    if (existsSync(join(src, f)) && !existsSync(join(dir, f))) symlinkSync(resolve(src, f), join(dir, f));
  }
  return dir;
}

/** The same checkpoint read as deepseek_v3: dense MLA, the indexer's tensors ignored. */
export function asDeepseekV3(src: string, name: string): string {
  return configVariant(src, name, (raw) => {
    raw.model_type = 'deepseek_v3';
    raw.architectures = ['DeepseekV3ForCausalLM'];
    delete raw.index_n_heads;
    delete raw.index_head_dim;
    delete raw.index_topk;
  });
}

/** The GGUF export of a model folder, redone when the checkpoint or config is newer than the file. */
export function ggufOf(modelDir: string, type: ExportType, log?: (s: string) => void): string {
  const out = join(benchOut, `${modelDir.split('/').pop()}.${type}.gguf`);
  const src = Math.max(statSync(join(modelDir, 'model.safetensors')).mtimeMs, statSync(join(modelDir, 'config.json')).mtimeMs);
  if (existsSync(out) && statSync(out).mtimeMs > src) return out;
  log?.(`exporting ${out}`);
  const t0 = Date.now();
  exportGguf(modelDir, `${out}.tmp`, { type });
  renameSync(`${out}.tmp`, out);
  log?.(`  ${(statSync(out).size / 2 ** 30).toFixed(2)} GiB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return out;
}
