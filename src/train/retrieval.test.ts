import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../testing/fixtures.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { tokenizeDocuments } from './data.js';
import { Rng } from './random.js';
import { mixRetrieval, RetrievalWindows } from './retrieval.js';

const tok = Tokenizer.fromDir(join(repoRoot, 'data/tokenizer'));
const prose = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. '.repeat(20);
const stream = tokenizeDocuments([prose, prose.toUpperCase()], tok, 0, undefined, 1);

test('documents end with EOS when one is given', () => {
  const a = tok.encode('One.'), b = tok.encode('Two.');
  assert.deepEqual([...tokenizeDocuments(['One.', 'Two.'], tok, 0, undefined, 1)], [0, ...a, 1, 0, ...b, 1]);
});

test('retrieval windows: S long, BOS first; every key is stated, then asked for and answered', () => {
  const S = 256;
  const gen = new RetrievalWindows(tok, stream, S, 0, 1, 3);
  const labels = new Set<string>();
  let multi = 0, single = 0;
  for (let i = 0; i < 60; i++) {
    const w = gen.window()!;
    assert.equal(w.length, S);
    assert.equal(w[0], 0);
    assert.ok(!w.subarray(1).includes(0), 'no BOS inside a window');
    const text = tok.decode([...w.subarray(1)].filter((t) => t !== 1));
    // each answer "…the LABEL? The LABEL is KEY." / "\nThe LABEL is KEY." must follow a needle with the same label and key
    const answers = [...text.matchAll(/(?:What is the ([\w ]+)\? The \1 is|\nThe ([\w ]+) is) (\d+)\./g)];
    assert.ok(answers.length >= 1, `a question with its answer: ${text.slice(-120)}`);
    for (const m of answers) {
      const label = (m[1] ?? m[2])!, key = m[3]!;
      labels.add(label);
      assert.ok(key.length >= 3 && key.length <= 7);
      assert.ok(text.slice(0, m.index).includes(`${label} is ${key}.`), `the needle for ${label} ${key} comes first`);
    }
    if (new Set(answers.map((m) => m[3])).size > 1) multi++; else single++;
  }
  assert.ok(labels.size >= 5, `varied labels (${[...labels].join(', ')})`);
  assert.ok(multi > 10 && single > 10, `both kinds of window (${multi} with several episodes, ${single} with one key)`);
  assert.equal(new RetrievalWindows(tok, stream, 16, 0, 1, 3).window(), null, 'too short for a prompt');
});

test('mixing replaces about the requested share of rows, seeded', () => {
  const S = 128, B = 200;
  const mk = () => {
    const batch = new Int32Array(B * S).fill(7);
    const n = mixRetrieval(batch, B, S, new RetrievalWindows(tok, stream, S, 0, 1, 5), 0.3, new Rng(9));
    return { batch, n };
  };
  const a = mk(), b = mk();
  assert.deepEqual(a.batch, b.batch);
  assert.ok(a.n > 40 && a.n < 80, `${a.n} of ${B} rows`);
  let changed = 0;
  for (let r = 0; r < B; r++) if (a.batch[r * S] === 0) changed++;
  assert.equal(changed, a.n);
});

test("'single' mode hides exactly one key per window", () => {
  const gen = new RetrievalWindows(tok, stream, 256, 0, 1, 4, 'single');
  for (let i = 0; i < 20; i++) {
    const text = tok.decode([...gen.window()!.subarray(1)].filter((t) => t !== 1));
    assert.equal(new Set(text.match(/\d{3,7}/g)).size, 1, text.slice(-100));
  }
});

test("'copy' mode adds copy drills: BOS, then one span of corpus tokens repeated to the end", () => {
  const S = 200;
  const gen = new RetrievalWindows(tok, stream, S, 0, 1, 6, 'copy');
  let drills = 0, keys = 0;
  for (let i = 0; i < 60; i++) {
    const w = gen.window()!;
    assert.equal(w.length, S);
    assert.equal(w[0], 0);
    const body = [...w.subarray(1)];
    const period = [...Array(57).keys()].map((k) => k + 8).find((L) => body.every((t, j) => j < L || t === body[j - L]));
    if (period !== undefined && !/\d{3,7}\./.test(tok.decode(body))) {
      drills++;
      assert.ok(!body.includes(0) && !body.includes(1), 'no document markers inside a drill');
    } else keys++;
  }
  assert.ok(drills > 10 && keys > 25, `${drills} drills, ${keys} passkey windows`);
});

test("'induction' mode: half the windows are drills, their spans spread from 2 to 64 tokens (short ones included)", () => {
  const S = 200;
  const gen = new RetrievalWindows(tok, stream, S, 0, 1, 7, 'induction');
  const spans: number[] = [];
  let keys = 0;
  for (let i = 0; i < 200; i++) {
    const body = [...gen.window()!.subarray(1)];
    // the smallest period of the body (a drill of span L can also repeat with a divisor period if its tokens do)
    const period = [...Array(63).keys()].map((k) => k + 1).find((L) => body.every((t, j) => j < L || t === body[j - L]));
    if (period !== undefined && !/\d{3,7}\./.test(tok.decode(body))) spans.push(period);
    else keys++;
  }
  assert.ok(spans.length > 70 && keys > 70, `${spans.length} drills, ${keys} passkey windows`);
  assert.ok(spans.filter((L) => L <= 8).length > 20, `short spans form the copy mechanism: ${spans.filter((L) => L <= 8).length} of ${spans.length} ≤ 8`);
  assert.ok(spans.some((L) => L >= 32), 'long spans too');
  assert.ok(Math.min(...spans) >= 1 && Math.max(...spans) <= 63);
});

test("'drills' mode: every window is a copy drill, spans from 2 up to half the window", () => {
  const S = 32;
  const gen = new RetrievalWindows(tok, stream, S, 0, 1, 8, 'drills');
  const spans: number[] = [];
  for (let i = 0; i < 100; i++) {
    const body = [...gen.window()!.subarray(1)];
    const period = [...Array(S).keys()].map((k) => k + 1).find((L) => body.every((t, j) => j < L || t === body[j - L]));
    assert.ok(period !== undefined && period <= 15, `repeats within the window (period ${period})`);
    spans.push(period);
  }
  assert.ok(spans.filter((L) => L <= 4).length > 25, 'many short spans');
  assert.ok(spans.some((L) => L >= 10), 'and some long ones');
});

for (const mode of ['recall', 'recall-open'] as const) test(`'${mode}' mode: half the windows define word + connector → value pairs and ask for them again at varying distances`, () => {
  const S = 128;
  const gen = new RetrievalWindows(tok, stream, S, 0, 1, 9, mode);
  const conn = new Set([' is', ':', ' =', ' was'].map((c) => tok.encode(c, { allowSpecial: false })[0]!));
  let drills = 0, agree = 0, repeats = 0;
  const distances = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const w = gen.window()!;
    assert.equal(w.length, S);
    assert.equal(w[0], 0);
    if (/\d{3,7}\./.test(tok.decode([...w]))) continue; // a passkey window
    drills++;
    const first = new Map<string, number>(); // "word,connector" → position of its first value token
    for (let j = 1; j + 2 < S; j++) {
      if (!conn.has(w[j + 1]!)) continue;
      const k = `${w[j]},${w[j + 1]}`;
      const at = first.get(k);
      if (at === undefined) { first.set(k, j + 2); continue; }
      repeats++;
      if (w[j + 2] === w[at]) agree++;
      if (mode === 'recall') assert.match(tok.decode([w[at]!, w[at + 1]!]), /^ ?\d/, 'compact drills: values are digits');
      distances.add(j + 2 - at);
    }
  }
  assert.ok(drills > 70 && drills < 130, `about half the windows are drills (${drills} of 200)`);
  assert.ok(repeats > 10 * drills, `keys are asked again many times (${repeats})`);
  assert.ok(agree / repeats > 0.95, `a repeated key is followed by its value (${agree} of ${repeats})`);
  assert.ok(distances.size > 50, `lookups at many distances, not one offset (${distances.size})`);
});

test("'recall-drills' mode: every window is a recall drill (digit values, no passkey sentences)", () => {
  const gen = new RetrievalWindows(tok, stream, 96, 0, 1, 10, 'recall-drills');
  for (let i = 0; i < 50; i++) {
    const text = tok.decode([...gen.window()!]);
    assert.ok(!/Remember|What is|hidden/.test(text) && /\d/.test(text), text);
  }
});
