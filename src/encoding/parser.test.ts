import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionParser, encodeMessages, outputStartFor, parseCompletion } from './index.js';
import type { ParseEvent, Tool } from './index.js';

const EOS = '<｜end▁of▁sentence｜>';
const call = (name: string, params: string) =>
  `<｜DSML｜invoke name="${name}">\n${params}\n</｜DSML｜invoke>`;
const param = (k: string, v: string, str: boolean) => `<｜DSML｜parameter name="${k}" string="${str}">${v}</｜DSML｜parameter>`;
const block = (...calls: string[]) => `\n\n<｜DSML｜function_calls>\n${calls.join('\n')}\n</｜DSML｜function_calls>`;

test('chat mode: content up to EOS', () => {
  const r = parseCompletion(`Hello <b>world</b>${EOS}`);
  assert.deepEqual(r, { reasoningContent: '', content: 'Hello <b>world</b>', toolCalls: [], malformed: false, sawEos: true });
});

test('thinking mode: reasoning up to </think>, then content; truncated reasoning stays reasoning', () => {
  assert.deepEqual(parseCompletion(`let me think</think>Answer${EOS}`, { thinkingMode: 'thinking' }),
    { reasoningContent: 'let me think', content: 'Answer', toolCalls: [], malformed: false, sawEos: true });
  const r = parseCompletion('still thinking <', { thinkingMode: 'thinking' });
  assert.equal(r.reasoningContent, 'still thinking <');
  assert.equal(r.malformed, false);
  assert.equal(parseCompletion('x</think>y', { thinkingMode: 'thinking', startIn: 'content' }).content, 'x</think>y');
});

test('streaming events: deltas, tool calls with index, nothing held back that is not a marker prefix', () => {
  const p = new CompletionParser({ thinkingMode: 'thinking' });
  const ev: ParseEvent[] = [];
  ev.push(...p.push('I should call '));
  assert.deepEqual(ev, [{ type: 'reasoning_content', text: 'I should call ' }]);
  ev.push(...p.push('it</thi'));
  assert.deepEqual(ev.at(-1), { type: 'reasoning_content', text: 'it' });
  ev.push(...p.push('nk>Sure.'));
  assert.deepEqual(ev.at(-1), { type: 'content', text: 'Sure.' });
  const text = block(call('a', param('x', '1', false)), call('b', param('y', 'hi', true))) + EOS;
  const tail: ParseEvent[] = [];
  for (const ch of text) tail.push(...p.push(ch));
  tail.push(...p.finish());
  assert.deepEqual(tail, [
    { type: 'tool_call', index: 0, name: 'a', arguments: '{"x": 1}' },
    { type: 'tool_call', index: 1, name: 'b', arguments: '{"y": "hi"}' },
  ]);
  assert.deepEqual(p.push('more'), []);
});

test('parameter values: string="true" raw, string="false" JSON, multi-line and unicode', () => {
  const r = parseCompletion(block(call('f', [
    param('code', 'def f():\n    return "x"\n', true),
    param('obj', '{"a": [1, 2.0], "b": null}', false),
    param('uni', '天气 "quoted" \\ back', true),
    param('empty', '', true),
  ].join('\n'))));
  assert.equal(r.toolCalls[0]!.arguments,
    '{"code": "def f():\\n    return \\"x\\"\\n", "obj": {"a": [1, 2.0], "b": null}, "uni": "天气 \\"quoted\\" \\\\ back", "empty": ""}');
  assert.deepEqual(JSON.parse(r.toolCalls[0]!.arguments).obj, { a: [1, 2], b: null });
});

test('schema coercion fixes string/non-string slips', () => {
  const tools: Tool[] = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {
    n: { type: 'integer' }, flag: { type: 'boolean' }, s: { type: 'string' }, opt: { anyOf: [{ type: 'number' }, { type: 'null' }] },
    list: { type: 'array', items: { type: 'string' } }, q: { type: 'string' }, word: { type: 'integer' },
  } } } }];
  const r = parseCompletion(block(call('f', [
    param('n', '5', true), param('flag', 'True', true), param('s', 'false', false), param('opt', '2.5', true),
    param('list', '["a"]', true), param('q', '"already quoted"', false), param('word', 'five', true),
  ].join('\n'))), { tools });
  assert.deepEqual(JSON.parse(r.toolCalls[0]!.arguments), {
    n: 5, flag: true, s: 'false', opt: 2.5, list: ['a'], q: 'already quoted', word: 'five',
  });
  // Without a schema: string="false" that is not JSON becomes a string; JSON stays JSON.
  const r2 = parseCompletion(block(call('g', [param('a', 'hello world', false), param('b', ' [1,2] ', false), param('c', 'NaN', false)].join('\n'))));
  assert.deepEqual(JSON.parse(r2.toolCalls[0]!.arguments), { a: 'hello world', b: [1, 2], c: 'NaN' });
});

test('lenient forms: bare opener, tool block right after reasoning, whitespace, second block', () => {
  const bare = parseCompletion(`Calling.\n<｜DSML｜function_calls>${call('f', '')}</｜DSML｜function_calls>`);
  assert.equal(bare.content, 'Calling.\n');
  assert.deepEqual(bare.toolCalls, [{ name: 'f', arguments: '{}' }]);
  const fromReasoning = parseCompletion(`hmm${block(call('f', param('a', '1', false)))}${EOS}`, { thinkingMode: 'thinking' });
  assert.equal(fromReasoning.reasoningContent, 'hmm');
  assert.equal(fromReasoning.toolCalls.length, 1);
  const two = parseCompletion(block(call('f', '')) + '\n' + block(call('g', '')) + EOS);
  assert.deepEqual(two.toolCalls.map((c) => c.name), ['f', 'g']);
  assert.equal(two.malformed, false);
});

test('malformed and truncated output becomes flagged content, never an exception', () => {
  const trunc = parseCompletion(`ok${block(call('f', param('a', '1', false)), call('g', param('b', 'x', true)))}`.slice(0, -60));
  assert.equal(trunc.content.startsWith('ok'), true);
  assert.deepEqual(trunc.toolCalls.map((c) => c.name), ['f']);
  assert.equal(trunc.malformed, true);
  assert.ok(trunc.content.includes('<｜DSML｜invoke name="g">'));

  const bad = parseCompletion('Use \n\n<｜DSML｜function_calls wisely.');
  assert.deepEqual([bad.content, bad.malformed, bad.toolCalls.length], ['Use \n\n<｜DSML｜function_calls wisely.', true, 0]);

  const after = parseCompletion(`${block(call('f', ''))}\nand then some text${EOS}`);
  assert.deepEqual([after.toolCalls.length, after.content, after.malformed], [1, 'and then some text', true]);

  const badAttr = parseCompletion(block(call('f', '<｜DSML｜parameter name="a" string="maybe">1</｜DSML｜parameter>')));
  assert.equal(badAttr.malformed, true);
  assert.equal(badAttr.toolCalls.length, 0);

  const afterEos = parseCompletion(`done${EOS}junk`);
  assert.deepEqual([afterEos.content, afterEos.malformed], ['donejunk', true]);
});

test('outputStartFor follows the rendered prompt', () => {
  const q = [{ role: 'user', content: 'q' }];
  assert.equal(outputStartFor(encodeMessages(q, { thinkingMode: 'thinking' })), 'reasoning');
  assert.equal(outputStartFor(encodeMessages(q, { thinkingMode: 'chat' })), 'content');
  const prefix = encodeMessages([...q, { role: 'assistant', content: 'Sure', reasoning_content: 'ok', prefix: true }], { thinkingMode: 'thinking' });
  assert.equal(outputStartFor(prefix), 'content');
});
