// dsv32 chat driven the way a person does it: in a real terminal (tmux), keys sent, screen read.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../model/config.js';
import { syntheticTensors, writeCheckpoint } from '../model/synthetic.js';
import { repoRoot } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';

// long enough (> 64 tokens) that the second turn's prompt shares full 64-token blocks with the first
const SYSTEM = 'You are a careful assistant. '.repeat(14).trim();
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dsv32 chat in a terminal', { skip: hasTmux ? false : 'tmux is not installed (apt-get install tmux)' }, () => {
  it('answers, stops an answer on Ctrl-C, resets, saves, and exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-chat-'));
    const raw = tinyConfigJson({ num_nextn_predict_layers: 1, vocab_size: 8192, max_position_embeddings: 4096 });
    writeCheckpoint(dir, raw, syntheticTensors(parseConfig(raw), { seed: 2 }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(repoRoot, 'data/tokenizer', f), join(dir, f));
    const session = `dsv32-chat-${process.pid}`;
    const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', session, '-S', '-200');
    const waitFor = async (re: RegExp, ms = 20000) => {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const s = screen();
        if (re.test(s)) return s;
        await sleep(100);
      }
      throw new Error(`timed out waiting for ${re}; screen:\n${screen()}`);
    };
    const cmd = `cd ${repoRoot} && env -u NODE_TEST_CONTEXT ${process.execPath} --import tsx src/cli/main.ts chat --model ${dir} --temperature 0 --max-tokens 12 --system "${SYSTEM}"; echo CHAT-EXITED $?; sleep 10`;
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', cmd);
    try {
      await waitFor(/^>\s*$/m); // capture-pane trims the prompt's trailing space
      tmux('send-keys', '-t', session, 'Hello, who are you?', 'Enter');
      await waitFor(/; 12 tokens[^\n]*\)\n>/);
      tmux('send-keys', '-t', session, 'And again?', 'Enter');
      const s2 = await waitFor(/> And again\?[\s\S]*; 12 tokens[^\n]*\)\n>/);
      assert.match(s2, /> And again\?[\s\S]*\d+ prompt tokens from cache/, 'the second turn reuses the first from the context cache');
      tmux('send-keys', '-t', session, '/save ' + join(dir, 'saved.json'), 'Enter');
      await waitFor(/saved 5 messages/);
      const saved = JSON.parse(readFileSync(join(dir, 'saved.json'), 'utf8')) as { messages: { role: string }[] };
      assert.deepEqual(saved.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'assistant']);
      tmux('send-keys', '-t', session, '/reset', 'Enter');
      await waitFor(/conversation reset/);
      tmux('send-keys', '-t', session, '/exit', 'Enter');
      await waitFor(/CHAT-EXITED 0/);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });

  it('Ctrl-C stops the current answer and the program keeps going', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-chat2-'));
    const raw = tinyConfigJson({ num_nextn_predict_layers: 0, vocab_size: 8192, max_position_embeddings: 100000 });
    writeCheckpoint(dir, raw, syntheticTensors(parseConfig(raw), { seed: 4 }));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(repoRoot, 'data/tokenizer', f), join(dir, f));
    const session = `dsv32-chat2-${process.pid}`;
    const tmux = (...a: string[]) => execFileSync('tmux', a, { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', session, '-S', '-300');
    const cmd = `cd ${repoRoot} && env -u NODE_TEST_CONTEXT ${process.execPath} --import tsx src/cli/main.ts chat --model ${dir} --temperature 0.9 --max-tokens 90000 --backend portable; echo CHAT-EXITED $?; sleep 10`;
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', cmd);
    try {
      const t0 = Date.now();
      while (!/^>\s*$/m.test(screen()) && Date.now() - t0 < 20000) await sleep(100);
      assert.match(screen(), /^>\s*$/m);
      tmux('send-keys', '-t', session, 'Talk for a long time', 'Enter');
      await sleep(1500);
      tmux('send-keys', '-t', session, 'C-c');
      const t1 = Date.now();
      while (!/stopped; \d+ tokens/.test(screen()) && Date.now() - t1 < 20000) await sleep(100);
      assert.match(screen(), /stopped; \d+ tokens/);
      tmux('send-keys', '-t', session, '/exit', 'Enter');
      const t2 = Date.now();
      while (!/CHAT-EXITED 0/.test(screen()) && Date.now() - t2 < 20000) await sleep(100);
      assert.match(screen(), /CHAT-EXITED 0/);
      assert.ok(existsSync(dir));
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });
});
