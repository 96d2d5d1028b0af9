// dsv32 generate as separate processes: MTP on/off agree, and --cache-dir survives a restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../model/config.js';
import { syntheticTensors, writeCheckpoint } from '../model/synthetic.js';
import { repoRoot } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('dsv32 generate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-gen-'));
  const raw = tinyConfigJson({ num_nextn_predict_layers: 1, vocab_size: 8192, max_position_embeddings: 1024 });
  writeCheckpoint(dir, raw, syntheticTensors(parseConfig(raw), { seed: 21 }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(repoRoot, 'data/tokenizer', f), join(dir, f));
  const prompt = 'In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. ' + 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood';

  it('greedy output is the same with MTP on and off; acceptance is reported', () => {
    const on = cli(['generate', '--model', dir, prompt, '--temperature', '0', '--max-tokens', '16', '--stats']);
    const off = cli(['generate', '--model', dir, prompt, '--temperature', '0', '--max-tokens', '16', '--stats', '--no-mtp']);
    assert.equal(on.status, 0, on.stderr);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(on.stdout, off.stdout);
    assert.match(on.stderr, /MTP acceptance [\d.]+% \(\d+\/\d+\)/);
    assert.doesNotMatch(off.stderr, /MTP acceptance/);
  });

  it('a restarted process with --cache-dir reports cache hits and the same tokens', () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'dsv32-gen-cache-'));
    const args = ['generate', '--model', dir, prompt, '--temperature', '0', '--max-tokens', '8', '--stats', '--cache-dir', cacheDir];
    const first = cli(args);
    const second = cli(args);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /\(0 from cache\)/);
    assert.match(second.stderr, /\((64|128) from cache\)/);
    assert.equal(second.stdout, first.stdout);
  });

  it('rejects bad options clearly', () => {
    const r = cli(['generate', '--model', dir, 'hi', '--temperature', 'hot']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--temperature must be a number/);
    const r2 = cli(['generate', '--model', '/nonexistent', 'hi']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /no config.json/);
  });
});
