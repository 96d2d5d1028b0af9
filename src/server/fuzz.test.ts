// Seeded fuzzing of every route with malformed requests: garbage bytes, truncated JSON, wrong types,
// out-of-range values and impossible conversations, alone and combined. Each mutation on its own makes
// a request invalid, so every answer must be a 4xx with an error body; afterwards the same server still
// answers a normal request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './testing.js';

let server: TestServer;
before(async () => { server = await startTestServer({ maxBatch: 4, config: { max_position_embeddings: 2048 } }); });
after(async () => { await server.close(); });

/** mulberry32 */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type R = ReturnType<typeof prng>;
type Body = Record<string, unknown>;

const weird = (r: R): unknown => r.pick([
  null, true, -1, 1e308, -0.5, 'x', '', '\u0000', '💥'.repeat(3), [], [1, 'a'], {}, { a: { b: [null] } }, '<｜end▁of▁sentence｜>', 12345678901234567890,
]);
const notA = (r: R, kind: 'string' | 'number' | 'boolean' | 'array' | 'object') => {
  for (;;) {
    const v = weird(r);
    const k = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
    if (k !== kind && !(kind === 'number' && k === 'bigint')) return v;
  }
};
const badString = (r: R) => r.pick([1, true, [], {}, ['a']]);

// Each mutation alone makes a chat request invalid.
const chatMutations: ((b: Body, r: R) => void)[] = [
  (b, r) => { b.model = r.pick([notA(r, 'string'), '', 'gpt-4', 'deepseek-chat ', 'x'.repeat(300)]); },
  (b, r) => { delete b.model; if (r.next() < 0.5) delete b.messages; },
  (b, r) => { b.messages = r.pick([notA(r, 'array'), [], [r.pick([null, 1, 'hi', []])]]); },
  (b, r) => { (b.messages as Body[])[0]!.role = r.pick(['robot', '', 'USER', 1, null, 'function']); },
  (b, r) => { (b.messages as Body[])[0]!.content = r.pick([1, true, { text: 'x' }, [{ type: 'image_url', image_url: { url: 'x' } }], [{ text: 'no type' }], [1]]); },
  (b, r) => { b.messages = [{ role: 'user', content: r.pick([null, undefined]) }]; },
  (b) => { (b.messages as Body[]).push({ role: 'assistant', content: 'no prefix' }); },
  (b) => { b.messages = [{ role: 'assistant', content: 'a', prefix: true }, { role: 'user', content: 'b' }]; },
  (b, r) => { b.messages = [{ role: 'user', content: 'q' }, { role: 'tool', content: 'orphan', tool_call_id: r.pick(['x', '']) }]; },
  (b, r) => {
    b.messages = [{ role: 'user', content: 'q' }, { role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: r.pick(['{', 'not json', '[1]', '"s"', '1']) } }] }, { role: 'tool', tool_call_id: 'c', content: 'r' }];
  },
  (b) => { b.messages = [{ role: 'developer' }, { role: 'user', content: 'x' }]; },
  (b, r) => { b.temperature = r.pick([notA(r, 'number'), 2.5, -0.1, 1e9]); },
  (b, r) => { b.top_p = r.pick([notA(r, 'number'), 1.5, -1]); },
  (b, r) => { b[r.pick(['frequency_penalty', 'presence_penalty'])] = r.pick([notA(r, 'number'), 2.01, -3]); },
  (b, r) => { b[r.pick(['max_tokens', 'max_completion_tokens'])] = r.pick([0, -5, 1.5, '10', 10_000_000, notA(r, 'number')]); },
  (b, r) => { b.stop = r.pick([1, [1], Array.from({ length: 17 }, () => 'x'), { s: 'x' }, true]); },
  (b, r) => { b.stream = r.pick(['yes', 1, [], {}]); },
  (b, r) => { b.stream_options = r.pick(['x', 1, { include_usage: 'yes' }]); },
  (b, r) => { b.tools = r.pick([notA(r, 'array'), [1], [{ type: 'function' }], [{ type: 'function', function: { name: r.pick(['bad name', '', 'a"b', 'x'.repeat(65), '名前']) } }], [{ type: 'retrieval', function: { name: 'f' } }], [{ type: 'function', function: { name: 'f', parameters: 'schema' } }]]); },
  (b, r) => { b.tool_choice = r.pick(['sometimes', 1, { type: 'function' }, { type: 'function', function: { name: 'missing' } }, 'required']); delete b.tools; },
  (b) => { b.tools = [{ type: 'function', function: { name: 'f' } }]; b.tool_choice = { type: 'function', function: { name: 'g' } }; },
  (b, r) => { b.logprobs = true; b.thinking = { type: 'enabled' }; if (r.next() < 0.5) b.top_logprobs = 2; },
  (b, r) => { b.top_logprobs = r.pick([21, -1, 1.5, 'x']); b.logprobs = true; },
  (b) => { b.top_logprobs = 3; b.logprobs = false; },
  (b, r) => { b.response_format = r.pick(['json', { type: 'xml' }, { type: 1 }, [], { json_schema: {} }]); },
  (b, r) => { b.thinking = r.pick([{ type: 'on' }, 'enabled', true, { type: null }]); },
  (b, r) => { b.n = r.pick([2, 0, '1', -1]); },
  (b, r) => { b.seed = r.pick(['s', 1.5, {}]); },
  (b) => { b.messages = [{ role: 'user', content: 'word '.repeat(3000) }]; },
];

const fimMutations: ((b: Body, r: R) => void)[] = [
  (b, r) => { b.prompt = r.pick([notA(r, 'string'), undefined]); },
  (b, r) => { b.suffix = badString(r); },
  (b, r) => { b.model = r.pick(['deepseek-reasoner', 'nope', 3]); },
  (b, r) => { b.max_tokens = r.pick([0, 5000, -1, 'x']); },
  (b, r) => { b.logprobs = r.pick([21, -1, true, 'x']); },
  (b, r) => { b.echo = r.pick(['yes', 1]); },
  (b, r) => { b.temperature = r.pick([3, 'hot']); },
  (b, r) => { b.stop = r.pick([1, [2]]); },
  (b) => { b.prompt = 'word '.repeat(3000); },
];

function chatBase(r: R): Body {
  const b: Body = { model: r.pick(['deepseek-chat', 'deepseek-reasoner', 'dsv32-synthetic']), messages: [{ role: 'user', content: r.pick(['hi', 'json please', '你好']) }], max_tokens: 1 };
  if (r.next() < 0.3) b.stream = r.next() < 0.5;
  if (r.next() < 0.3) b.temperature = r.next() * 2;
  if (r.next() < 0.2) (b.messages as Body[]).unshift({ role: 'system', content: 'be brief' });
  return b;
}
const fimBase = (r: R): Body => ({ model: 'deepseek-chat', prompt: r.pick(['def f(', 'a']), max_tokens: 1, ...(r.next() < 0.5 ? { suffix: 'return' } : {}) });

/** Serialises a body, sometimes breaking the JSON itself. */
function serialise(b: Body, r: R): string {
  const text = JSON.stringify(b);
  const k = r.next();
  if (k < 0.08) return text.slice(0, r.int(text.length)); // truncated
  if (k < 0.12) return text.replace(/[:,]/, r.pick(['', ';', '::']));
  return text;
}

const CHAT_ROUTES = ['/chat/completions', '/v1/chat/completions', '/beta/chat/completions'];
const FIM_ROUTES = ['/beta/completions', '/v1/beta/completions', '/completions', '/v1/completions'];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''];

async function send(path: string, body: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  const r = await fetch(server.url + path, { method: 'POST', headers, body });
  return { status: r.status, text: await r.text() };
}

function assertClientError(res: { status: number; text: string }, what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what} → ${res.status} ${res.text.slice(0, 300)}`);
  const err = JSON.parse(res.text) as { error?: { message?: unknown } };
  assert.equal(typeof err.error?.message, 'string', what);
}

describe('fuzz', () => {
  it('hundreds of malformed requests on every route get 4xx error bodies; the server keeps working', { timeout: 60_000 }, async () => {
    const r = prng(20240601);
    const statuses = new Map<number, number>();
    const tally = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    for (let i = 0; i < 360; i++) {
      const b = chatBase(r);
      for (let m = 1 + r.int(3); m > 0; m--) r.pick(chatMutations)(b, r);
      const body = serialise(b, r);
      const res = await send(r.pick(CHAT_ROUTES), body);
      assertClientError(res, body.slice(0, 300));
      tally(res.status);
    }
    for (let i = 0; i < 140; i++) {
      const b = fimBase(r);
      for (let m = 1 + r.int(2); m > 0; m--) r.pick(fimMutations)(b, r);
      const body = serialise(b, r);
      const res = await send(r.pick(FIM_ROUTES), body);
      assertClientError(res, body.slice(0, 300));
      tally(res.status);
    }
    // raw garbage and wrong content types on every POST route
    for (let i = 0; i < 100; i++) {
      const bytes = Array.from({ length: r.int(64) }, () => String.fromCharCode(r.int(256))).join('');
      const ct = r.pick(CONTENT_TYPES);
      const body = ct.startsWith('application/json') ? bytes.replace(/^\s*[[{"\d-tfn]/, '#') || '#' : bytes + 'x';
      const res = await send(r.pick([...CHAT_ROUTES, ...FIM_ROUTES]), body, ct);
      assertClientError(res, JSON.stringify([ct, body]));
      tally(res.status);
    }
    // GET routes with junk ids and queries never fail on the server side
    for (let i = 0; i < 40; i++) {
      const junk = encodeURIComponent(Array.from({ length: r.int(20) }, () => String.fromCharCode(32 + r.int(0x3000))).join(''));
      const path = r.pick([`/v1/models/${junk}`, `/models?x=${junk}`, `/v1/user/balance?${junk}`, `/${junk}`]);
      const res = await fetch(server.url + path);
      assert.ok(res.status < 500, `${path} → ${res.status}`);
      await res.arrayBuffer();
    }
    console.log(`# statuses: ${[...statuses].sort().map(([s, n]) => `${s}×${n}`).join(' ')}`);
    const ok = await send('/v1/chat/completions', JSON.stringify({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3 }));
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text).object, 'chat.completion');
    assert.deepEqual(server.served.engine.load, { active: 0, queued: 0 });
  });
});
