// Retrieval windows mixed into training (`--retrieval F`): a model that has only read prose never needs to
// copy from far back, so it cannot pass a passkey test at any length and the dense-vs-sparse comparison of
// that test means nothing. Each retrieval window hides a key (3–7 digits) behind a label at a random depth
// in filler, and ends with a question whose answer is the key, so the loss rewards looking it up.
// Variety on purpose, so the model learns the lookup rather than one sentence: ten labels, four needle and
// three question phrasings, keys of several lengths, and two kinds of filler — corpus prose, or one short
// corpus span repeated (repeated text is itself copying practice). The evaluation prompt (eval.ts) is one
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

/** Turns BOS-led prose windows into retrieval windows of the same length. */
export class RetrievalWindows {
  private readonly rng: Rng;

  /**
   * stream: the tokenised corpus (filler comes from it); S: window length; eos: appended after the answer
   * when it fits (null: never).
   */
  constructor(private readonly tok: Tokenizer, private readonly stream: Int32Array, readonly S: number,
    private readonly bos: number, private readonly eos: number | null, seed: number) {
    this.rng = new Rng(seed);
  }

  private enc(s: string): number[] {
    return this.tok.encode(s, { allowSpecial: false });
  }

  /** `n` filler tokens: corpus prose from a random offset, or one short span repeated. */
  private filler(n: number): number[] {
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
    const { rng, S } = this;
    const label = LABELS[rng.int(LABELS.length)]!;
    const digits = 3 + rng.int(5);
    let key = String(1 + rng.int(9));
    while (key.length < digits) key += String(rng.int(10));
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
    while (fill.length < room) fill.push(...this.enc(' And so it was.'));
    fill.length = room;
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
