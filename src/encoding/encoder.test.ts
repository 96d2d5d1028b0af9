import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeMessages, attachTools, EncodingError, parseCompletion, completionToMessage, pyJsonLoads } from './index.js';
import type { Message } from './index.js';
import { deepseekV32 } from '../tokenizer/index.js';

const fixtures = new URL('../../../shared/fixtures/encoding/', import.meta.url);
const input = pyJsonLoads(readFileSync(new URL('test_input.json', fixtures), 'utf8')) as { messages: Message[]; tools: Message['tools'] };
const gold = readFileSync(new URL('test_output.txt', fixtures), 'utf8').trim();
// As the official test does: tools go on the first (system) message.
const messages = attachTools(input.messages, input.tools);
const cfg = { thinkingMode: 'thinking', dropThinking: true, addBos: true } as const;

test('golden prompt of the official test equals test_output.txt byte for byte', () => {
  assert.equal(encodeMessages(messages, cfg), gold);
  // drop_thinking never changes the rendered text (reasoning before the last user turn is not rendered anyway).
  assert.equal(encodeMessages(messages, { ...cfg, dropThinking: false }), gold);
});

test('parser round trip: tool-call message messages[4] (ids dropped, content ignored)', () => {
  const msg = messages[4]!;
  const prompt = encodeMessages([msg], { ...cfg, context: messages.slice(0, 4) });
  assert.ok(!prompt.startsWith('<｜begin▁of▁sentence｜>'));
  const parsed = completionToMessage(parseCompletion(prompt, { thinkingMode: 'thinking' }));
  const { content: _c, ...rest } = parsed;
  const want = { ...msg, tool_calls: msg.tool_calls!.map(({ id: _id, ...c }) => c) };
  assert.deepEqual(rest, want);
});

test('parser round trip: plain answer messages[-6] (tool_calls ignored)', () => {
  const i = messages.length - 6;
  const msg = messages[i]!;
  const prompt = encodeMessages([msg], { ...cfg, context: messages.slice(0, i) });
  const { tool_calls: _t, ...rest } = completionToMessage(parseCompletion(prompt, { thinkingMode: 'thinking' }));
  assert.deepEqual(rest, msg);
});

test('rendering a suffix with context equals the tail of the full prompt', () => {
  for (let i = 1; i < messages.length; i++) {
    const suffix = encodeMessages(messages.slice(i), { ...cfg, context: messages.slice(0, i) });
    assert.ok(suffix.length > 0 && gold.endsWith(suffix), `split at ${i}`);
  }
});

test('chat mode closes thinking after every user turn and drops reasoning', () => {
  const p = encodeMessages(
    [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo', reasoning_content: 'secret' }, { role: 'user', content: 'again' }],
    { thinkingMode: 'chat' },
  );
  assert.equal(p, '<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜></think>yo<｜end▁of▁sentence｜><｜User｜>again<｜Assistant｜></think>');
});

test('model card example tokenises to the published ids', () => {
  const prompt = encodeMessages(
    [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'Hello! I am DeepSeek.', reasoning_content: 'thinking...' }, { role: 'user', content: '1+1=?' }],
    { thinkingMode: 'thinking' },
  );
  const ids = deepseekV32().encode(prompt);
  assert.deepEqual(ids.slice(0, 6), [0, 128803, 33310, 128804, 128799, 19923]);
  assert.deepEqual(ids.slice(-2), [128804, 128798]);
  assert.equal(ids.filter((x) => x === 1).length, 1);
});

test('developer role, response_format and Python JSON in the system block', () => {
  const p = encodeMessages(
    [
      { role: 'system', content: 'S', response_format: { type: 'json_object', schema: { min: 1.5, ok: true, name: '名' } } },
      { role: 'developer', content: 'do it', tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] },
    ],
    { thinkingMode: 'thinking', addBos: false },
  );
  assert.ok(p.startsWith('S\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n{"type": "json_object", "schema": {"min": 1.5, "ok": true, "name": "名"}}<｜User｜>\n\n## Tools\n'));
  assert.ok(p.includes('<functions>\n{"name": "f", "parameters": {}}\n</functions>\n'));
  assert.ok(p.endsWith("\n\n# The user's message is: do it<｜Assistant｜><think>"));
});

test('non-string arguments are Python JSON with string="false"; floats keep their form', () => {
  const p = encodeMessages(
    [
      { role: 'user', content: 'q' },
      { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"n": 1.0, "l": [1,2], "o": {"a": "é"}, "s": "x\\ny", "b": false}' } }] },
    ],
    { thinkingMode: 'chat', addBos: false },
  );
  assert.ok(p.includes(
    '<｜DSML｜parameter name="n" string="false">1.0</｜DSML｜parameter>\n' +
    '<｜DSML｜parameter name="l" string="false">[1, 2]</｜DSML｜parameter>\n' +
    '<｜DSML｜parameter name="o" string="false">{"a": "é"}</｜DSML｜parameter>\n' +
    '<｜DSML｜parameter name="s" string="true">x\ny</｜DSML｜parameter>\n' +
    '<｜DSML｜parameter name="b" string="false">false</｜DSML｜parameter>'));
});

test('assistant prefix (beta) is left open', () => {
  const base: Message[] = [{ role: 'user', content: 'write' }];
  assert.equal(encodeMessages([...base, { role: 'assistant', content: '```python\n', prefix: true }], { addBos: false }),
    '<｜User｜>write<｜Assistant｜></think>```python\n');
  assert.equal(encodeMessages([...base, { role: 'assistant', reasoning_content: 'Let me', prefix: true }], { thinkingMode: 'thinking', addBos: false }),
    '<｜User｜>write<｜Assistant｜><think>Let me');
});

test('impossible conversations give EncodingError', () => {
  const bad: [Message[], RegExp][] = [
    [[{ role: 'wizard', content: 'x' }], /unknown role/],
    [[{ role: 'tool', content: 'r' }], /without an assistant tool call/],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }, { role: 'tool', content: 'r' }], /made 0 tool call/],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{' } }] }], /not valid JSON/],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '[1]' } }] }], /must be a JSON object/],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{}' } }, { function: { name: 'g', arguments: '{}' } }] }, { role: 'tool', content: 'r' }, { role: 'user', content: 'u' }], /only 1 of 2 tool results/],
    [[{ role: 'user', content: null }], /needs content/],
    [[{ role: 'user', content: [{ type: 'image_url' }] }], /not a text part/],
    [[{ role: 'developer', content: '' }], /needs content/],
    [[{ role: 'assistant', content: 'a', prefix: true }, { role: 'user', content: 'q' }], /prefix/],
    [[{ role: 'system', content: 's', tools: [{} as never] }], /no "function" object/],
  ];
  for (const [msgs, re] of bad) assert.throws(() => encodeMessages(msgs), (e: unknown) => e instanceof EncodingError && re.test(e.message), re.source);
  assert.throws(() => encodeMessages([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], { thinkingMode: 'thinking' }), /needs reasoning_content/);
  assert.throws(() => encodeMessages([], { thinkingMode: 'deep' as never }), EncodingError);
});

test('text content parts are joined', () => {
  assert.equal(encodeMessages([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], { addBos: false }),
    '<｜User｜>a\nb<｜Assistant｜></think>');
});
