// Retrieval windows mixed into training (`--retrieval F`): a model that has only read prose never needs to
// copy from far back, so it cannot pass a passkey test at any length and the dense-vs-sparse comparison of
// that test means nothing. Each retrieval window hides a key (3–7 digits) behind a label at a random depth
// in filler, and ends with a question whose answer is the key, so the loss rewards looking it up.
// Variety on purpose, so the model learns the lookup rather than one sentence: ten labels, four needle and
// three question phrasings, keys of several lengths, and two kinds of filler — corpus prose, or one short
// corpus span repeated (repeated text is itself copying practice). Half the windows instead pack several
// short episodes (key, a little filler, question, answer): many answers per window at short distances
// give the copying mechanism a strong gradient before it has to work across the whole window. The evaluation prompt (eval.ts) is one
// member of this family with its own filler sentences, which training never uses.
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Rng } from './random.js';

const LABELS = ['pass key', 'passkey', 'secret number', 'code', 'magic number', 'PIN', 'combination', 'password', 'key number', 'access code'];

const NEEDLES: ((l: string, k: string) => string)[] = [
  (l, k) => ` The ${l} is ${k}. `,
  (l, k) => ` The ${l} is ${k}. Remember it. `,
  (l, k) => ` The ${l} is ${k}. Remember it. ${k} is the ${l}. `,
  (l, k) => ` Remember this: the ${l} is ${k}. `,
];

const QUESTIONS: ((l: string) => string)[] = [
  (l) => `\nWhat is the ${l}? The ${l} is`,
  (l) => ` What is the ${l}? The ${l} is`,
  (l) => `\nThe ${l} is`,
];

export type RetrievalMode = 'single' | 'mixed' | 'copy' | 'induction' | 'drills' | 'recall' | 'recall-drills' | 'recall-open';
export const RETRIEVAL_MODES: readonly RetrievalMode[] = ['single', 'mixed', 'copy', 'induction', 'drills', 'recall', 'recall-drills', 'recall-open'];

// Shared second tokens of recall keys: a key is "<word><connector>", and with one connector shared by many
// keys only the word before it identifies the pair — a passkey's "pass key is" in miniature.
export const CONNECTORS = [' is', ':', ' =', ' was'];

/** Every token that is a whole number 0–999 (the tokenizer's digit tokens: what keys are made of). */
export function digitTokens(tok: Tokenizer): number[] {
  const digits: number[] = [];
  for (let d = 0; d < 1000; d++) {
    const ids = tok.encode(String(d), { allowSpecial: false });
    if (ids.length === 1 && !digits.includes(ids[0]!)) digits.push(ids[0]!);
  }
  return digits;
}

interface DrillVocab {
  /** the 96 most frequent corpus tokens that are neither digits nor connectors */
  words: number[];
  digits: number[];
  conn: number[];
  /** the space token that leads " 48213" */
  space: number;
}

/** Turns BOS-led prose windows into retrieval windows of the same length. */
export class RetrievalWindows {
  private readonly rng: Rng;

  /**
   * stream: the tokenised corpus (filler comes from it); S: window length; eos: appended after the answer
   * when it fits (null: never).
   */
  constructor(private readonly tok: Tokenizer, private readonly stream: Int32Array, readonly S: number,
    private readonly bos: number, private readonly eos: number | null, seed: number,
    /**
     * 'single': one key per window only; 'mixed': half the windows pack several short episodes; 'copy': a
     * third each of single keys, episodes and copy drills (a random span repeated to the window's end);
     * 'induction': half copy drills with spans log-uniform in 2–64 (the short ones, repeated many times at
     * small distances, are what first forms the copy mechanism), a quarter each single keys and episodes;
     * 'drills': copy drills only, spans log-uniform from 2 to half the window (at most 64) — a short-window
     * warm-up stage for the copy mechanism; 'recall': half associative-recall drills (see recallDrill), a
     * quarter each single keys and episodes
     */
    readonly mode: RetrievalMode = 'mixed') {
    this.rng = new Rng(seed);
  }

  private enc(s: string): number[] {
    return this.tok.encode(s, { allowSpecial: false });
  }

  /** Exactly `n` filler tokens: corpus prose from a random offset, or one short span repeated. */
  private filler(n: number): number[] {
    const out = this.fillerDraw(n);
    while (out.length < n) out.push(...this.enc(' And so it was.')); // only near the stream's end
    out.length = n;
    return out;
  }

  private fillerDraw(n: number): number[] {
    const { stream, rng } = this;
    const isDoc = (t: number) => t === this.bos || t === this.eos;
    if (rng.next() < 0.5) {
      const span = 8 + rng.int(24);
      const o = rng.int(Math.max(1, stream.length - span));
      const unit = [...stream.subarray(o, o + span)].filter((t) => !isDoc(t));
      if (unit.length) {
        const out: number[] = [];
        while (out.length < n) out.push(...unit);
        return out.slice(0, n);
      }
    }
    const o = rng.int(Math.max(1, stream.length - n * 2));
    return [...stream.subarray(o, o + n * 2)].filter((t) => !isDoc(t)).slice(0, n);
  }

  /** One window of exactly S ids (BOS first), or null when S is too short for the prompt. */
  window(): Int32Array | null {
    if (this.mode === 'single') return this.single();
    if (this.mode === 'drills') return this.copyDrill(this.logSpan(Math.min(64, Math.floor((this.S - 1) / 2))));
    const r = this.rng.next();
    if (this.mode === 'copy' && r < 1 / 3) return this.copyDrill(8 + this.rng.int(57));
    if (this.mode === 'recall-drills') return this.recallDrill();
    if (this.mode === 'recall' || this.mode === 'recall-open') {
      if (r < 0.5) return this.recallDrill(this.mode === 'recall-open');
      return r < 0.75 ? this.episodes() ?? this.single() : this.single();
    }
    if (this.mode === 'induction') {
      if (r < 0.5) return this.copyDrill(this.logSpan(64));
      return r < 0.75 ? this.episodes() ?? this.single() : this.single();
    }
    return r < (this.mode === 'copy' ? 2 / 3 : 0.5) ? this.episodes() ?? this.single() : this.single();
  }

  /** A span length log-uniform in [2, max] (max ≥ 2): as many drills of 2–4 tokens as of 16–32. */
  private logSpan(max: number): number {
    return Math.min(max, Math.max(2, Math.floor(2 * (Math.max(2, max) / 2) ** this.rng.next())));
  }

  /**
   * Corpus tokens drawn one at a time from random places (no word order to predict) into a span,
   * repeated to the window's end: after its first pass every token is predictable only by copying from
   * the context, the plainest signal there is for the copy (induction) mechanism passkeys need.
   */
  private copyDrill(span: number): Int32Array {
    const unit = Array.from({ length: span }, () => this.randomToken());
    const { S } = this;
    const ids = [this.bos];
    while (ids.length < S) ids.push(...unit);
    return Int32Array.from(ids.slice(0, S));
  }

  private drillVocab: DrillVocab | null = null;

  private vocab(): DrillVocab {
    if (this.drillVocab) return this.drillVocab;
    const conn = CONNECTORS.map((c) => this.enc(c)[0]!);
    const count = new Map<number, number>();
    for (const t of this.stream) {
      if (t === this.bos || t === this.eos || conn.includes(t)) continue;
      count.set(t, (count.get(t) ?? 0) + 1);
    }
    const words: number[] = [];
    for (const [t] of [...count].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
      if (words.length === 96) break;
      if (!/^\d+$/.test(this.tok.decode([t]))) words.push(t);
    }
    this.drillVocab = { words, digits: digitTokens(this.tok), conn, space: this.enc(' 1')[0]! };
    return this.drillVocab;
  }

  private randomToken(): number {
    const { stream, rng } = this;
    for (;;) {
      const t = stream[rng.int(stream.length)]!;
      if (t !== this.bos && t !== this.eos) return t;
    }
  }

  /**
   * Associative recall: pairs "word connector value" — word one of the corpus's most frequent tokens, value
   * 1–4 digit tokens, half of them after a space token — defined in the first part of the window with a few
   * random words between them, then asked for again in random order to the window's end. The value after a
   * repeated key is predictable only by finding that key earlier and copying what followed, at a distance
   * that varies by pair — content lookup (an induction head), not a fixed offset: plain repeated spans can be
   * solved by "copy the token N back" heads or by guessing tokens already seen, which is what they taught this
   * model and which never carried over to passkeys. With one or two connectors per window, the connector
   * alone does not identify the pair (the word before it does) — a passkey's "pass key is" in miniature. A
   * small vocabulary (96 words, the digit tokens) so that each token is met in this role often enough to
   * learn it.
   * open: the first version ('recall-open'), kept to reproduce a stage that ran on it — words and values
   * (no space) are any corpus tokens; over 8192 tokens it taught this model to guess among tokens already
   * seen (about one value in four), not to look a key up.
   */
  private recallDrill(open = false): Int32Array {
    const { rng, S } = this;
    const v = open ? null : this.vocab();
    const conn = v?.conn ?? CONNECTORS.map((c) => this.enc(c)[0]!);
    const word = v ? () => v.words[rng.int(v.words.length)]! : () => this.randomToken();
    const valueToken = v ? () => v.digits[rng.int(v.digits.length)]! : () => this.randomToken();
    const maxPairs = Math.max(2, Math.floor((S - 1) / 12));
    const n = 2 + rng.int(maxPairs - 1);
    const used = new Set<number>();
    const pairs: number[][] = [];
    const nConn = 1 + rng.int(2);
    while (pairs.length < n) {
      const w = word();
      if (used.has(w) || conn.includes(w)) continue;
      used.add(w);
      const value = Array.from({ length: 1 + rng.int(4) }, valueToken);
      // half the values lead with a space token as " is 48213" does, so the lookup must look two back
      pairs.push([w, conn[rng.int(nConn)]!, ...(v && rng.next() < 0.5 ? [v.space] : []), ...value]);
    }
    const ids = [this.bos];
    for (const p of pairs) {
      if (rng.next() < 0.5) for (let k = rng.int(7); k > 0; k--) ids.push(word());
      ids.push(...p);
    }
    while (ids.length < S) ids.push(...pairs[rng.int(n)]!);
    return Int32Array.from(ids.slice(0, S));
  }

  private key(): string {
    const digits = 3 + this.rng.int(5);
    let key = String(1 + this.rng.int(9));
    while (key.length < digits) key += String(this.rng.int(10));
    return key;
  }

  /** Several short episodes back to back, the last one cut to fit by its filler (null if none fits). */
  private episodes(): Int32Array | null {
    const { rng, S } = this;
    const ids: number[] = [this.bos];
    for (;;) {
      const label = LABELS[rng.int(LABELS.length)]!;
      const key = this.key();
      const needle = this.enc(NEEDLES[rng.int(NEEDLES.length)]!(label, key));
      const question = this.enc(QUESTIONS[rng.int(QUESTIONS.length)]!(label));
      const answer = this.enc(` ${key}.`);
      const fixed = needle.length + question.length + answer.length;
      const room = S - ids.length - fixed;
      if (room < 4) break;
      const fill = this.filler(Math.min(room, 4 + rng.int(60)));
      ids.push(...needle, ...fill, ...question, ...answer);
    }
    if (ids.length === 1) return null;
    ids.push(...this.filler(S - ids.length));
    return Int32Array.from(ids);
  }

  /** One key hidden at a random depth of the whole window, asked for at its end. */
  private single(): Int32Array | null {
    const { rng, S } = this;
    const label = LABELS[rng.int(LABELS.length)]!;
    const key = this.key();
    const intro = rng.next() < 0.5 ? this.enc(`There is a ${label} hidden in this text. Remember it.\n`) : [];
    const needle = this.enc(NEEDLES[rng.int(NEEDLES.length)]!(label, key));
    const question = this.enc(QUESTIONS[rng.int(QUESTIONS.length)]!(label));
    const answer = this.enc(` ${key}.`);
    const fixed = 1 + intro.length + needle.length + question.length + answer.length;
    if (fixed > S) return null;
    // the answer ends the window, followed by EOS when there is room for one
    const tail = this.eos !== null && fixed + 1 <= S && rng.next() < 0.5 ? [this.eos] : [];
    const room = S - fixed - tail.length;
    const fill = this.filler(room);
    const depth = Math.round(room * (0.05 + 0.9 * rng.next()));
    const ids = [this.bos, ...intro, ...fill.slice(0, depth), ...needle, ...fill.slice(depth), ...question, ...answer, ...tail];
    return Int32Array.from(ids);
  }
}

/** Replaces each row of a [B,S] batch by a retrieval window with probability `fraction` (seeded). */
export function mixRetrieval(batch: Int32Array, B: number, S: number, gen: RetrievalWindows, fraction: number, rng: Rng): number {
  let n = 0;
  for (let b = 0; b < B; b++) {
    if (rng.next() >= fraction) continue;
    const w = gen.window();
    if (!w) continue;
    batch.set(w, b * S);
    n++;
  }
  return n;
}
