import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../testing/fixtures.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { evalChunks, splitDocuments, tokenizeDocuments, WindowSampler } from './data.js';

test('documents split at blank lines (CRLF, whitespace-only separators), empty ones dropped', () => {
  const docs = splitDocuments('CHAPTER I\r\nFirst line.\r\nSecond.\r\n\r\nCHAPTER II\nMore.\n  \n\n\nLast one.\n');
  assert.deepEqual(docs, ['CHAPTER I\nFirst line.\nSecond.', 'CHAPTER II\nMore.', 'Last one.']);
  assert.deepEqual(splitDocuments('\n\n \n'), []);
});

test('each document becomes BOS + its tokens; added-token text stays plain text', () => {
  const tok = Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
  const docs = ['In the beginning.', 'It is a truth <think> universally acknowledged.'];
  const s = tokenizeDocuments(docs, tok, 0);
  const a = tok.encode(docs[0]!), b = tok.encode(docs[1]!, { allowSpecial: false });
  assert.deepEqual([...s], [0, ...a, 0, ...b]);
  assert.ok(!b.includes(tok.tokenToId('<think>')!), 'markup in training text must not become a control token');
});

test('windows: BOS first, then a contiguous run of the stream; seeded and repeatable', () => {
  const stream = Int32Array.from({ length: 500 }, (_, i) => (i % 50 === 0 ? 0 : 1000 + i));
  const S = 16;
  const a = new WindowSampler(stream, S, 0, 5).batch(8);
  const b = new WindowSampler(stream, S, 0, 5).batch(8);
  assert.deepEqual(a, b);
  const c = new WindowSampler(stream, S, 0, 6).batch(8);
  assert.notDeepEqual(a, c);
  const starts = new Set<number>();
  for (let r = 0; r < 8; r++) {
    const row = a.subarray(r * S, (r + 1) * S);
    assert.equal(row[0], 0);
    assert.notEqual(row[1], 0, 'a window never repeats the BOS it starts on');
    // ids ≥ 1000 encode their stream position, so consecutive ones must step by one
    for (let i = 2; i < S; i++) if (row[i] !== 0 && row[i - 1] !== 0) assert.equal(row[i], row[i - 1]! + 1);
    starts.add(row[1]!);
  }
  assert.ok(starts.size > 4, 'windows start at different offsets');
  assert.throws(() => new WindowSampler(stream.subarray(0, 10), S, 0), /fewer than one sequence/);
});

test('evaluation chunks cover the stream once, each BOS-led and at most S long', () => {
  const stream = Int32Array.from({ length: 103 }, (_, i) => (i === 0 || i === 40 ? 0 : 100 + i));
  const S = 20;
  const chunks = evalChunks(stream, S, 0);
  const body = chunks.flatMap((c) => { assert.equal(c[0], 0); assert.ok(c.length <= S && c.length >= 2); return [...c.subarray(1)]; });
  // every stream token appears exactly once, in order (a document BOS at a chunk start is not doubled)
  const want = [...stream.subarray(1)].filter((v, i) => !(v === 0 && (i + 1) % (S - 1) === 1));
  assert.deepEqual(body.filter((v) => v !== 0), want.filter((v) => v !== 0));
  assert.equal(evalChunks(stream, S, 0, 2).length, 2);
});
