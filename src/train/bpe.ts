// Byte-level BPE training with DeepSeek-V3's pre-tokenizer, written out as a Hugging Face
// tokenizer.json laid out like DeepSeek-V3's (BOS/EOS/pad at ids 0–2, byte alphabet, merges,
// then the chat/FIM/tool control tokens at the top of the id range).
//
// No npm library fits: the `tokenizers` package (HF's Node bindings) ships its native binary as an
// optional per-platform package and its Node API exposes no configurable BPE trainer, so the
// trainer is here. Algorithm: count pre-tokenized words, then repeatedly merge the most frequent
// adjacent pair, keeping pair counts incrementally (only words containing the merged pair are
// touched) and picking the best pair from a lazily-updated max-heap.
import { BYTE_TO_CHAR } from '../tokenizer/byte-level.js';

/** DeepSeek-V3's `pre_tokenizer`, verbatim from its tokenizer.json (a test checks it still matches). */
export const DEEPSEEK_PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    { type: 'Split', pattern: { Regex: '\\p{N}{1,3}' }, behavior: 'Isolated', invert: false },
    { type: 'Split', pattern: { Regex: '[一-龥぀-ゟ゠-ヿ]+' }, behavior: 'Isolated', invert: false },
    {
      type: 'Split',
      pattern: {
        Regex:
          "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
      },
      behavior: 'Isolated',
      invert: false,
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
} as const;

const SPLIT_REGEXES = DEEPSEEK_PRE_TOKENIZER.pretokenizers
  .filter((p) => p.type === 'Split')
  .map((p) => new RegExp((p as { pattern: { Regex: string } }).pattern.Regex, 'gu'));

/** Split with behavior "Isolated": every match and every gap between matches is its own piece. */
function splitIsolated(piece: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of piece.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) out.push(piece.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < piece.length) out.push(piece.slice(last));
  return out;
}

const ENCODER = new TextEncoder();

/** Text → byte-level pre-tokens, exactly as DeepSeek-V3's pre_tokenizer does it. */
export function preTokenize(text: string): string[] {
  let pieces = [text];
  for (const re of SPLIT_REGEXES) pieces = pieces.flatMap((p) => splitIsolated(p, re));
  return pieces.map((p) => {
    let s = '';
    for (const b of ENCODER.encode(p)) s += BYTE_TO_CHAR[b];
    return s;
  });
}

/** Adds the pre-token counts of `text` to `counts`. Cuts the text at line starts, which no pre-token spans. */
export function countWords(text: string, counts: Map<string, number> = new Map()): Map<string, number> {
  const lineStart = /\n(?=\S)/g;
  let from = 0;
  const add = (chunk: string) => {
    for (const w of preTokenize(chunk)) counts.set(w, (counts.get(w) ?? 0) + 1);
  };
  for (const m of text.matchAll(lineStart)) {
    add(text.slice(from, m.index + 1));
    from = m.index + 1;
  }
  if (from < text.length) add(text.slice(from));
  return counts;
}

export interface BpeTrainOptions {
  /** Target number of BPE tokens (byte alphabet + merged tokens), added tokens not included. */
  modelVocabSize: number;
  /** Pairs seen fewer times than this are never merged (training may then stop early). */
  minFrequency?: number;
  /** Called every `progressEvery` merges. */
  onProgress?: (merges: number, best: number) => void;
  progressEvery?: number;
}

export interface BpeModel {
  /** Token strings by model id: the 256 byte characters (in byte order), then merged tokens. */
  tokens: string[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
}

// Pair keys pack two token ids (< 2^21 each) into one safe integer.
const KEY_BASE = 2 ** 21;
const pairKey = (a: number, b: number) => a * KEY_BASE + b;

/** Max-heap on (count desc, key asc) — the same tie-break as HF's trainer (smaller pair first). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number { return this.keys.length; }
  private above(i: number, j: number): boolean {
    return this.counts[i]! > this.counts[j]! || (this.counts[i] === this.counts[j] && this.keys[i]! < this.keys[j]!);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    if (this.keys.length) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.keys.length && this.above(l, m)) m = l;
        if (r < this.keys.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Learns byte-level BPE merges from pre-token counts (see countWords). */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, opts: BpeTrainOptions): BpeModel {
  const minFrequency = opts.minFrequency ?? 2;
  const tokens: string[] = [...BYTE_TO_CHAR];
  const tokenId = new Map(tokens.map((t, i) => [t, i]));
  if (opts.modelVocabSize < tokens.length) throw new Error(`modelVocabSize must be at least ${tokens.length}`);

  // Words as arrays of token ids (one byte character each to begin with).
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, c] of wordCounts) {
    const ids: number[] = [];
    for (const ch of w) {
      const id = tokenId.get(ch);
      if (id === undefined) throw new Error(`pre-token ${JSON.stringify(w)} has a non byte-level character`);
      ids.push(id);
    }
    words.push(ids);
    freqs.push(c);
  }

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>(); // pair → words that may contain it (superset)
  words.forEach((ids, wi) => {
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = pairKey(ids[i]!, ids[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + freqs[wi]!);
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(wi);
    }
  });
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push(c, k);

  const merges: [string, string][] = [];
  while (tokens.length < opts.modelVocabSize && heap.size) {
    const top = heap.pop();
    const current = pairCount.get(top.key) ?? 0;
    if (current !== top.count) {
      if (current > 0) heap.push(current, top.key); // stale entry: requeue with the true count
      continue;
    }
    if (current < minFrequency) break;
    const a = Math.floor(top.key / KEY_BASE), b = top.key % KEY_BASE;
    const merged = tokens[a]! + tokens[b]!;
    let id = tokenId.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      tokenId.set(merged, id);
    }
    merges.push([tokens[a]!, tokens[b]!]);

    // Rewrite every word holding the pair; account the pair changes as deltas.
    const delta = new Map<number, number>();
    const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const wi of where.get(top.key) ?? []) {
      const ids = words[wi]!;
      let found = false;
      for (let i = 0; i + 1 < ids.length; i++) if (ids[i] === a && ids[i + 1] === b) { found = true; break; }
      if (!found) continue;
      const f = freqs[wi]!;
      for (let i = 0; i + 1 < ids.length; i++) bump(pairKey(ids[i]!, ids[i + 1]!), -f);
      const out: number[] = [];
      for (let i = 0; i < ids.length;) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) { out.push(id); i += 2; }
        else out.push(ids[i++]!);
      }
      words[wi] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const k = pairKey(out[i]!, out[i + 1]!);
        bump(k, f);
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) pairCount.set(k, c);
      else { pairCount.delete(k); where.delete(k); }
      if (d > 0) heap.push(c, k);
    }
    where.delete(top.key);
    if (opts.onProgress && merges.length % (opts.progressEvery ?? 1000) === 0) opts.onProgress(merges.length, current);
  }
  return { tokens, merges };
}
