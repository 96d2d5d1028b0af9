// Load on loopback: 16 concurrent SSE streams of a few dozen tokens each, twice, under a hard timeout.
// Every stream must finish with its usage; memory after the second round must not have grown much
// over the first (nothing kept per finished request).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './testing.js';

const STREAMS = 16;
const TOKENS = 32;

let server: TestServer;
before(async () => { server = await startTestServer({ maxBatch: STREAMS, maxQueue: STREAMS }); });
after(async () => { await server.close(); });

async function stream(i: number, signal: AbortSignal): Promise<{ tokens: number; chunks: number }> {
  const r = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    signal,
    body: JSON.stringify({
      model: 'deepseek-chat', stream: true, stream_options: { include_usage: true }, max_tokens: TOKENS, seed: i,
      messages: [{ role: 'user', content: `Request ${i}: tell me something.` }],
    }),
  });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  const chunks = text.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  const usage = chunks.at(-1).usage;
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  return { tokens: usage.completion_tokens, chunks: chunks.length };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

describe('load', () => {
  it(`${STREAMS} concurrent streams complete, twice, with bounded memory`, { timeout: 60_000 }, async () => {
    const signal = AbortSignal.timeout(45_000);
    const rss0 = process.memoryUsage().rss;
    const rounds: number[] = [];
    for (let round = 0; round < 2; round++) {
      const t = performance.now();
      const results = await Promise.all(Array.from({ length: STREAMS }, (_, i) => stream(round * STREAMS + i, signal)));
      const s = (performance.now() - t) / 1000;
      const tokens = results.reduce((a, r) => a + r.tokens, 0);
      for (const r of results) assert.ok(r.tokens >= 1 && r.tokens <= TOKENS);
      console.log(`# round ${round + 1}: ${STREAMS} streams, ${tokens} tokens in ${s.toFixed(2)} s = ${(tokens / s).toFixed(0)} tok/s; RSS ${mib(process.memoryUsage().rss)}`);
      rounds.push(process.memoryUsage().rss);
    }
    console.log(`# RSS before ${mib(rss0)}, after round 1 ${mib(rounds[0]!)}, after round 2 ${mib(rounds[1]!)}`);
    assert.ok(rounds[1]! - rounds[0]! < 64 * 2 ** 20, 'a second round of the same load keeps memory about level');
    assert.deepEqual(server.served.engine.load, { active: 0, queued: 0 });
  });
});
