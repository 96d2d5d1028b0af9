// `dsv32 serve` as a user runs it: a model folder on disk (synthetic weights, our tokenizer, a
// generation_config.json asking for greedy decoding), an API key, port 0; then a request and SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../model/config.js';
import { syntheticTensors, writeCheckpoint } from '../model/synthetic.js';
import { repoRoot } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';

describe('dsv32 serve', () => {
  it('serves a model folder with a key, applies generation_config.json, stops on SIGTERM', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-serve-'));
    try {
      const raw = tinyConfigJson({ vocab_size: 8192, max_position_embeddings: 512 });
      writeCheckpoint(dir, raw, syntheticTensors(parseConfig(raw), { seed: 3 }));
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(repoRoot, 'data/tokenizer', f), join(dir, f));
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: false, temperature: 1.0, top_p: 0.95 }));

      const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'serve', '--model', dir, '--port', '0', '--api-key', 'k1', '--backend', 'portable'], {
        cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const ask = async () => {
        const r = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer k1' },
          body: JSON.stringify({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6 }),
        });
        assert.equal(r.status, 200);
        return ((await r.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
      };
      // generation_config.json says do_sample: false, so two requests without a temperature agree
      assert.equal(await ask(), await ask());
      const models = (await (await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer k1' } })).json()) as { data: { id: string }[] };
      assert.equal(models.data[0]!.id, dir.split('/').pop());
      assert.equal((await fetch(`${url}/v1/models`)).status, 401);
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
