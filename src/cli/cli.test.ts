// The CLI as a user runs it: a real process, real files.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configsDir, type Golden, referenceDir, relErr, repoRoot } from '../testing/fixtures.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('dsv32 CLI', () => {
  it('logits reproduces the reference golden file', () => {
    const dir = referenceDir('tiny-fp8');
    const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
    const out = join(mkdtempSync(join(tmpdir(), 'dsv32-cli-')), 'logits.json');
    const r = cli(['logits', '--model', dir, '--prompt-ids', golden.prompt.join(','), '--steps', String(golden.decode_logits.length), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(readFileSync(out, 'utf8')) as Golden;
    assert.deepEqual(got.greedy_tokens, golden.greedy_tokens);
    got.prefill_logits.forEach((row, i) => assert.ok(relErr(row, golden.prefill_logits[i]!) < 1e-4));
    got.decode_logits.forEach((row, i) => assert.ok(relErr(row, golden.decode_logits[i]!) < 1e-4));
    const asSets = (g: Golden) => JSON.stringify(g.indexer_decode.map((d) => ({ ...d, selected: [...d.selected].sort((a, b) => a - b) })));
    assert.equal(asSets(got), asSets(golden));
  });

  it('inspect reports the 671B parameter count from config.json alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-cfg-'));
    copyFileSync(join(configsDir, 'deepseek-v3.2.json'), join(dir, 'config.json'));
    const text = execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'inspect', dir], { cwd: repoRoot, encoding: 'utf8' });
    assert.match(text, /671\.88B total; 37\.48B activated per token/);
    assert.match(text, /MTP, apart\): 11\.62B/);
    assert.match(text, /656 B MLA latent \+ 132 B indexer keys per layer × 61/);
    const json = JSON.parse(cli(['inspect', dir, '--json']).stdout) as { params: { total: number }; checkpoint: unknown };
    assert.ok(Math.abs(json.params.total - 671.88e9) < 0.01e9);
    assert.equal(json.checkpoint, null);
  });

  it('fails with a clear message and exit code 1 on bad input', () => {
    const r1 = cli(['logits', '--model', referenceDir('tiny-bf16'), '--prompt-ids', '1,x,3']);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /--prompt-ids: "x" is not a non-negative integer token id/);
    const r2 = cli(['inspect', '/nonexistent/model']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /no such file/);
    const r3 = cli(['logits', '--model', referenceDir('tiny-bf16'), '--prompt-ids', '99999']);
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /outside the vocabulary/);
  });
});
