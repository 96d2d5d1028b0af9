import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEncode } from './encode.js';

const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/encoding/', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

test('dsv32 encode prints the golden prompt exactly', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'encode', '--input', join(fixtures, 'test_input.json'), '--thinking'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(fixtures, 'test_output.txt'), 'utf8').trim());
});

test('--tokens prints ids; bad input is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-enc-'));
  try {
    const f = join(dir, 'in.json');
    writeFileSync(f, JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }));
    assert.deepEqual(JSON.parse(runEncode({ input: f, tokens: true, thinking: true })), [0, 128803, 33310, 128804, 128798]);
    assert.equal(runEncode({ input: f, bos: false }), '<｜User｜>hello<｜Assistant｜></think>');
    writeFileSync(f, '{"msgs": []}');
    assert.throws(() => runEncode({ input: f }), /"messages" array/);
    writeFileSync(f, JSON.stringify({ messages: [{ role: 'tool', content: 'x' }] }));
    assert.throws(() => runEncode({ input: f }), /tool result without an assistant tool call/);
    assert.throws(() => runEncode({ input: join(dir, 'missing.json') }), /cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
