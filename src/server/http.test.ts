// HTTP-level behaviour on a real server: keep-alives while queued, disconnects freeing the engine slot,
// 429 when the queue is full, size limits, auth, error bodies, route prefixes and the static page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKeys } from './auth.js';
import { startTestServer, type TestServer } from './testing.js';

let server: TestServer;
const KEY = 'sk-http-test';
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

before(async () => {
  server = await startTestServer({ apiKeys: [KEY], maxBatch: 1, maxQueue: 1, keepAliveMs: 30, bodyLimit: 64 * 1024 });
});
after(async () => { await server.close(); });

const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'Hello' }], ...extra });
const post = (path: string, body: string, headers: Record<string, string> = auth, signal?: AbortSignal) =>
  fetch(server.url + path, { method: 'POST', headers, body, signal });

/** Reads a streamed response until `until` matches the text so far (or the stream ends). */
async function readUntil(r: Response, until: (text: string) => boolean): Promise<string> {
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += dec.decode(value, { stream: true });
    if (until(text)) { void reader.cancel().catch(() => {}); return text; }
  }
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A long streamed request that holds the single batch slot until aborted. */
async function occupy(): Promise<AbortController> {
  const ctl = new AbortController();
  const r = await post('/v1/chat/completions', chatBody({ stream: true, max_tokens: 800 }), auth, ctl.signal);
  assert.equal(r.status, 200);
  const reader = r.body!.getReader();
  await reader.read(); // the first chunk: it is running
  return ctl;
}

describe('http', () => {
  it('streams `: keep-alive` comments while a request waits in the queue, then its chunks', async () => {
    const hog = await occupy();
    const r = await post('/v1/chat/completions', chatBody({ stream: true, max_tokens: 3 }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
    const pending = readUntil(r, (t) => t.includes('data: [DONE]'));
    await new Promise((res) => setTimeout(res, 150));
    hog.abort();
    const text = await pending;
    const firstData = text.indexOf('data: ');
    assert.ok(text.indexOf(': keep-alive\n\n') >= 0 && text.indexOf(': keep-alive\n\n') < firstData, text.slice(0, 200));
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });

  it('a non-streamed request that waits gets blank lines, then its JSON (status 200)', async () => {
    const hog = await occupy();
    const pending = post('/v1/chat/completions', chatBody({ max_tokens: 2 }));
    await new Promise((res) => setTimeout(res, 150));
    hog.abort();
    const r = await pending;
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /^\n+\{/);
    assert.equal(JSON.parse(text).object, 'chat.completion');
  });

  it('a client that disconnects (streamed or not) frees its batch slot at the next step', async () => {
    const hog = await occupy();
    assert.equal(server.served.engine.load.active, 1);
    hog.abort();
    await waitFor(() => server.served.engine.load.active === 0 && server.served.engine.load.queued === 0);
    // the same for a non-streamed request
    const ctl = new AbortController();
    const pending = post('/v1/chat/completions', chatBody({ max_tokens: 800 }), auth, ctl.signal).catch((e: Error) => e.name);
    await waitFor(() => server.served.engine.load.active === 1);
    ctl.abort();
    assert.equal(await pending, 'AbortError');
    await waitFor(() => server.served.engine.load.active === 0 && server.served.engine.load.queued === 0);
    const r = await post('/v1/chat/completions', chatBody({ max_tokens: 2 }));
    assert.equal(r.status, 200);
  });

  it('429 with a rate_limit_error body when the queue is full', async () => {
    const hog = await occupy();
    const waiting = new AbortController();
    const queued = await post('/v1/chat/completions', chatBody({ stream: true, max_tokens: 2 }), auth, waiting.signal);
    assert.equal(queued.status, 200);
    await waitFor(() => server.served.engine.load.queued === 1);
    const r = await post('/v1/chat/completions', chatBody({ max_tokens: 2 }));
    assert.equal(r.status, 429);
    const body = await r.json() as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'rate_limit_error');
    waiting.abort();
    hog.abort();
    await waitFor(() => server.served.engine.load.active === 0 && server.served.engine.load.queued === 0);
  });

  it('limits: 413 for a body over the limit, 400 for a prompt longer than the context', async () => {
    const big = await post('/v1/chat/completions', chatBody({ messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }));
    assert.equal(big.status, 413);
    assert.ok(((await big.json()) as { error: { message: string } }).error.message);
    const words = Array.from({ length: 1500 }, (_, i) => `word${i}`).join(' ');
    const long = await post('/v1/chat/completions', chatBody({ messages: [{ role: 'user', content: words }] }));
    assert.equal(long.status, 400);
    const e = (await long.json()) as { error: { code: string } };
    assert.equal(e.error.code, 'context_length_exceeded');
  });

  it('400 for malformed JSON or a non-object body, 415 for another content type, 404 for unknown routes; no internals leak', async () => {
    const cases: [string, string, Record<string, string>, number][] = [
      ['/v1/chat/completions', '{"model": ', auth, 400],
      ['/v1/chat/completions', '[1,2]', auth, 400],
      ['/v1/chat/completions', 'null', auth, 400],
      ['/v1/chat/completions', '{"__proto__": {"x": 1}}', auth, 400],
      ['/v1/chat/completions', 'hello', { ...auth, 'content-type': 'text/plain' }, 415],
      ['/v1/nothing-here', '{}', auth, 404],
    ];
    for (const [path, body, headers, status] of cases) {
      const r = await post(path, body, headers);
      assert.equal(r.status, status, `${path} ${body}`);
      const text = await r.text();
      const err = JSON.parse(text) as { error: { message: string; type: string } };
      assert.equal(typeof err.error.message, 'string');
      assert.doesNotMatch(text, /\bat .*\.(ts|js):\d+|node_modules|stack/);
    }
  });

  it('401 without or with a wrong key; every route prefix answers with the key', async () => {
    const none = await fetch(`${server.url}/v1/models`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { type: string } }).error.type, 'authentication_error');
    const wrong = await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${KEY}x` } });
    assert.equal(wrong.status, 401);
    for (const p of ['/models', '/v1/models', '/beta/models']) {
      const r = await fetch(server.url + p, { headers: auth });
      assert.equal(r.status, 200, p);
    }
    for (const p of ['/chat/completions', '/beta/chat/completions']) {
      assert.equal((await post(p, chatBody({ max_tokens: 1 }))).status, 200, p);
    }
    for (const p of ['/beta/completions', '/v1/completions']) {
      assert.equal((await post(p, JSON.stringify({ model: 'deepseek-chat', prompt: 'a', max_tokens: 1 }))).status, 200, p);
    }
    assert.equal((await fetch(`${server.url}/v1/user/balance`, { headers: auth })).status, 200);
  });

  it('serves the chat page and its script without a key, under a strict CSP', async () => {
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="chat.js">/);
    const js = await fetch(`${server.url}/chat.js`);
    assert.match(js.headers.get('content-type')!, /javascript/);
    assert.match(await js.text(), /\/v1\/chat\/completions/);
  });
});

describe('api keys', () => {
  it('accepts exactly the configured keys, in Bearer form', () => {
    const k = new ApiKeys(['alpha', 'beta-key']);
    assert.ok(k.check('Bearer alpha'));
    assert.ok(k.check('bearer beta-key'));
    for (const bad of [undefined, '', 'alpha', 'Bearer alph', 'Bearer alphaa', 'Bearer ', 'Basic alpha', 'Bearer beta']) assert.ok(!k.check(bad), String(bad));
    assert.ok(new ApiKeys([]).check(undefined), 'no keys: open');
  });
});
