import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDecoder, TokenizerError, deepseekV32 } from './index.js';

const tok = deepseekV32();

test('pushing ids one by one never yields U+FFFD for valid text and adds up to decode()', () => {
  const text = '天气🌤️ 👨‍👩‍👧‍👦 多云 café <think>😀</think>';
  const ids = tok.encode(text);
  // The emoji really are split across byte-level tokens, or this test would prove nothing.
  assert.ok(ids.some((id) => new TextDecoder('utf-8', { fatal: false }).decode(tok.tokenBytes(id)).includes('\uFFFD')));
  const sd = new StreamDecoder(tok);
  let out = '';
  for (const id of ids) {
    const piece = sd.push(id);
    assert.ok(!piece.includes('\uFFFD'), `U+FFFD after id ${id}`);
    out += piece;
  }
  out += sd.flush();
  assert.equal(out, text);
  assert.equal(sd.text, text);
});

test('an unfinished UTF-8 sequence is held, then flushed as U+FFFD', () => {
  const ids = tok.encode('😀');
  const partial = ids.slice(0, -1);
  assert.ok(partial.length > 0);
  const sd = new StreamDecoder(tok);
  assert.equal(sd.push(partial), '');
  assert.equal(sd.flush(), '\uFFFD');
});

test('skipSpecial and invalid ids', () => {
  const sd = new StreamDecoder(tok, { skipSpecial: true });
  assert.equal(sd.push([0, ...tok.encode('hi'), 1]), 'hi');
  assert.throws(() => sd.push(-1), TokenizerError);
  assert.throws(() => sd.push(200000), TokenizerError);
});
