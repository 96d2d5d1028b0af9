// Shared CLI helpers: argument parsing and model loading with a progress bar on a terminal.
import cliProgress from 'cli-progress';
import { DeepSeekModel } from '../model/model.js';

export function parseIdList(s: string, flag: string): number[] {
  const parts = s.split(/[\s,]+/).filter(Boolean);
  if (!parts.length) throw new Error(`${flag}: no token ids given`);
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: "${p}" is not a non-negative integer token id`);
    return n;
  });
}

export async function loadModelForCli(dir: string): Promise<DeepSeekModel> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'loading {bar} {percentage}% | {value}/{total} tensors', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : null;
  let started = false;
  const model = DeepSeekModel.load(dir, {
    onProgress: (done, total) => {
      if (!bar) return;
      if (!started) { bar.start(total, 0); started = true; }
      bar.update(done);
    },
  });
  bar?.stop();
  return model;
}
