// dsv32 logits: prefill ids from position 0, then greedy decode one token at a time; writes the same
// JSON keys as the reference golden files so dsv32 can be compared with other implementations.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DeepSeekModel } from '../../model/model.js';
import { addModelOptions, loadForCli, type ModelFlags, parseIdList } from '../util.js';

export interface LogitsReport {
  prompt: number[];
  prefill_logits: number[][];
  greedy_tokens: number[];
  decode_logits: number[][];
  indexer_prefill: { layer: number; rows: number[][] }[];
  indexer_decode: { layer: number; pos: number; selected: number[] }[];
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export function computeLogits(model: DeepSeekModel, prompt: number[], steps: number): LogitsReport {
  const V = model.cfg.vocabSize;
  const L = model.cfg.numLayers;
  const cache = model.newCache();
  const allUpTo = (pos: number) => Array.from({ length: pos + 1 }, (_, i) => i);
  const sorted = (s: Int32Array | null, pos: number) => (s ? [...s].sort((a, b) => a - b) : allUpTo(pos));
  const rows: number[][][] = Array.from({ length: L }, () => []);
  const res = model.forward(prompt, 0, cache, { logits: 'all', hooks: { onSelect: (l, pos, s) => { rows[l]![pos] = sorted(s, pos); } } });
  const prefill: number[][] = [];
  for (let i = 0; i < prompt.length; i++) prefill.push(Array.from(res.logits.subarray(i * V, (i + 1) * V), round6));
  const argmax = (v: ArrayLike<number>) => { let b = 0; for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i; return b; };
  const tokens = [argmax(res.logits.subarray((prompt.length - 1) * V))];
  const decode: number[][] = [];
  const sel: LogitsReport['indexer_decode'] = [];
  for (let j = 0; j < steps; j++) {
    const pos = prompt.length + j;
    const r = model.forward([tokens[j]!], pos, cache, { hooks: { onSelect: (l, p, s) => sel.push({ layer: l, pos: p, selected: sorted(s, p) }) } });
    decode.push(Array.from(r.logits, round6));
    tokens.push(argmax(r.logits));
  }
  const hasIndexer = model.cfg.indexer !== null;
  return {
    prompt,
    prefill_logits: prefill,
    greedy_tokens: tokens,
    decode_logits: decode,
    indexer_prefill: hasIndexer ? rows.map((r, layer) => ({ layer, rows: r })) : [],
    indexer_decode: hasIndexer ? sel : [],
  };
}

export function registerLogits(program: Command): void {
  addModelOptions(program
    .command('logits')
    .description('prefill --prompt-ids from position 0, then N greedy decode steps; write golden-style JSON'))
    .requiredOption('--prompt-ids <ids>', 'comma-separated token ids, e.g. 1,2,3')
    .option('--steps <n>', 'greedy decode steps after the prefill', '8')
    .option('--out <file>', 'output JSON file (default: stdout)')
    .action(async (o: ModelFlags & { promptIds: string; steps: string; out?: string }) => {
      const steps = Number(o.steps);
      if (!Number.isInteger(steps) || steps < 0) throw new Error(`--steps must be a non-negative integer (got "${o.steps}")`);
      const prompt = parseIdList(o.promptIds, '--prompt-ids');
      const rt = await loadForCli(o);
      const report = computeLogits(rt.model, prompt, steps);
      await rt.close();
      const json = JSON.stringify(report);
      if (o.out) writeFileSync(o.out, json);
      else process.stdout.write(json + '\n');
    });
}
