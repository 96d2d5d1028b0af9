// Seeded fuzzing of the completion parser: valid DSML round-trips through the encoder, any split
// gives the same result as no split, and truncated or garbage input never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionParser, encodeMessages, parseCompletion, pyJsonDumps } from './index.js';
import type { Message, ParsedCompletion, ParserOptions, Tool } from './index.js';

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(0xd5e32);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const EOS = '<｜end▁of▁sentence｜>';
// Pieces that look like markup but must stay text, to stress the marker hold-back logic.
const TEXT_BITS = ['a', 'Z', ' ', '\n', '\n\n', '<', '>', '"', '｜', '<｜DSML｜', '<｜DSML｜function', '</thin', '<｜end', '天气', '😀', '{', '}', '\\', '\t', 'x=1;'];
const FORBIDDEN = [EOS, '</think>', '<｜DSML｜function_calls'];

function text(max: number): string {
  for (;;) {
    let s = '';
    for (let n = int(max); n > 0; n--) s += pick(TEXT_BITS);
    if (!FORBIDDEN.some((f) => s.includes(f))) return s;
  }
}

function value(depth = 0): unknown {
  switch (int(depth > 1 ? 4 : 6)) {
    case 0: return text(8).replaceAll('</｜DSML｜parameter>', '');
    case 1: return int(2000) - 1000;
    case 2: return pick([true, false, null, 2.5, -0.125]);
    case 3: return text(5);
    case 4: return Array.from({ length: int(3) }, () => value(depth + 1));
    default: return Object.fromEntries(Array.from({ length: int(3) }, (_, i) => [`k${i}`, value(depth + 1)]));
  }
}

function randomAssistant(thinking: boolean): Message {
  const calls = Array.from({ length: int(4) }, (_, i) => ({
    type: 'function',
    function: { name: `tool_${i}`, arguments: pyJsonDumps(Object.fromEntries(Array.from({ length: int(4) }, (_, j) => [`p${j}`, value()]))) },
  }));
  const msg: Message = { role: 'assistant', content: rand() < 0.7 ? text(30) : '' };
  if (calls.length) msg.tool_calls = calls;
  if (thinking) msg.reasoning_content = text(30) || 'r';
  return msg;
}

function chunked(s: string, opts: ParserOptions, cuts: number[]): ParsedCompletion {
  const p = new CompletionParser(opts);
  let last = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) { p.push(s.slice(last, c)); last = c; }
  p.push(s.slice(last));
  p.finish();
  return p.result;
}

function randomCuts(s: string): number[] {
  return Array.from({ length: 1 + int(8) }, () => int(s.length + 1));
}

function everyChar(s: string, opts: ParserOptions): ParsedCompletion {
  const p = new CompletionParser(opts);
  for (const ch of s) p.push(ch);
  p.finish();
  return p.result;
}

test('valid completions round-trip and parse the same under any split', () => {
  for (let i = 0; i < 300; i++) {
    const thinking = rand() < 0.5;
    const mode = thinking ? 'thinking' : 'chat';
    const msg = randomAssistant(thinking);
    const completion = encodeMessages([msg], { thinkingMode: mode, context: [{ role: 'user', content: 'q' }] });
    const opts: ParserOptions = { thinkingMode: mode };
    const whole = parseCompletion(completion, opts);
    assert.equal(whole.malformed, false, completion);
    assert.equal(whole.sawEos, true);
    assert.equal(whole.content, msg.content);
    assert.equal(whole.reasoningContent, thinking ? msg.reasoning_content : '');
    assert.deepEqual(whole.toolCalls, (msg.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
    assert.deepEqual(chunked(completion, opts, randomCuts(completion)), whole);
    if (i % 10 === 0) assert.deepEqual(everyChar(completion, opts), whole);
    // Schemas that agree with the values change nothing.
    const tools: Tool[] = (msg.tool_calls ?? []).map((c) => ({ type: 'function', function: { name: c.function.name, parameters: { type: 'object', properties: {} } } }));
    assert.deepEqual(parseCompletion(completion, { ...opts, tools }), whole);
  }
});

test('truncated completions never throw and do not depend on the split', () => {
  for (let i = 0; i < 200; i++) {
    const thinking = rand() < 0.5;
    const opts: ParserOptions = { thinkingMode: thinking ? 'thinking' : 'chat' };
    const full = encodeMessages([randomAssistant(thinking)], { ...opts, context: [{ role: 'user', content: 'q' }] });
    const cut = full.slice(0, int(full.length));
    const whole = parseCompletion(cut, opts);
    assert.deepEqual(chunked(cut, opts, randomCuts(cut)), whole);
    for (const c of whole.toolCalls) JSON.parse(c.arguments);
  }
});

const GARBAGE_BITS = [
  '<｜DSML｜function_calls>', '\n\n<｜DSML｜function_calls>', '<｜DSML｜invoke name="f">', '<｜DSML｜invoke name="">', '<｜DSML｜invoke>',
  '</｜DSML｜invoke>', '<｜DSML｜parameter name="a" string="true">', '<｜DSML｜parameter name="b" string="false">',
  '<｜DSML｜parameter name="c">', '</｜DSML｜parameter>', '</｜DSML｜function_calls>', '</think>', '<think>', EOS,
  '\n', '\n\n', ' ', '<', '>', '"', '｜', 'DSML', 'x', '1', '[1,', '{"k": 2}', 'True', 'é', '😀', '\uFFFD', '\ud800',
];

test('garbage and unbalanced markup never throw and do not depend on the split', () => {
  for (let i = 0; i < 400; i++) {
    let s = '';
    for (let n = int(40); n > 0; n--) s += pick(GARBAGE_BITS);
    const opts: ParserOptions = { thinkingMode: rand() < 0.5 ? 'thinking' : 'chat', tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } } } } }] };
    const whole = parseCompletion(s, opts);
    assert.deepEqual(chunked(s, opts, randomCuts(s)), whole, JSON.stringify(s));
    if (i % 20 === 0) assert.deepEqual(everyChar(s, opts), whole, JSON.stringify(s));
    for (const c of whole.toolCalls) assert.equal(typeof JSON.parse(c.arguments), 'object');
  }
});
