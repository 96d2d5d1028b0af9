// Training text → token ids → batches. The corpus format (scripts/build-corpus.ts) is one paragraph per
// line and a blank line between documents; each document becomes BOS + its tokens (+ EOS when given, so
// a model learns to end a text) in one stream.
// Training windows start at random offsets of that stream and are each led by BOS, the way the engine
// sees a prompt (the encoder writes BOS), so the first position of every row is a known state.
import { readFileSync } from 'node:fs';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { Rng } from './random.js';

/** Splits corpus text into documents at blank lines (trimmed, empty ones dropped). */
export function splitDocuments(text: string): string[] {
  return text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/).map((d) => d.trim()).filter((d) => d.length > 0);
}

/** BOS + tokens (+ EOS) of every document, concatenated. Added tokens in the text are treated as plain text. */
export function tokenizeDocuments(docs: readonly string[], tok: Tokenizer, bos: number, onProgress?: (done: number, total: number) => void,
  eos: number | null = null): Int32Array {
  const parts: number[][] = [];
  let n = 0;
  let bytesDone = 0;
  const totalBytes = docs.reduce((s, d) => s + d.length, 0);
  for (const d of docs) {
    const ids = tok.encode(d, { allowSpecial: false });
    parts.push(ids);
    n += ids.length + (eos === null ? 1 : 2);
    bytesDone += d.length;
    onProgress?.(bytesDone, totalBytes);
  }
  const out = new Int32Array(n);
  let o = 0;
  for (const ids of parts) {
    out[o++] = bos;
    out.set(ids, o);
    o += ids.length;
    if (eos !== null) out[o++] = eos;
  }
  return out;
}

export function tokenizeFile(path: string, tok: Tokenizer, bos: number, onProgress?: (done: number, total: number) => void,
  eos: number | null = null): Int32Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--data: cannot read ${path}: ${(e as Error).message}`);
  }
  const docs = splitDocuments(text);
  if (!docs.length) throw new Error(`--data: ${path} has no text`);
  return tokenizeDocuments(docs, tok, bos, onProgress, eos);
}

/** Random BOS-led windows of S tokens from a token stream (seeded, so runs repeat exactly). */
export class WindowSampler {
  private readonly rng: Rng;

  constructor(readonly stream: Int32Array, readonly S: number, readonly bos: number, seed = 1) {
    if (S < 2) throw new Error(`sequence length must be at least 2 (got ${S})`);
    if (stream.length < S) {
      throw new Error(`the data has ${stream.length} tokens, fewer than one sequence of ${S}; use more text or a shorter --seq`);
    }
    this.rng = new Rng(seed);
  }

  /** B rows of S ids, row-major: BOS then S−1 consecutive stream tokens. */
  batch(B: number): Int32Array {
    const { S, stream } = this;
    const out = new Int32Array(B * S);
    for (let b = 0; b < B; b++) {
      let o = this.rng.int(stream.length - (S - 1) + 1);
      // a window that starts on a document's own BOS would repeat it
      if (stream[o] === this.bos && o + S <= stream.length) o++;
      out[b * S] = this.bos;
      out.set(stream.subarray(o, o + S - 1), b * S + 1);
    }
    return out;
  }
}

/** Consecutive BOS-led evaluation chunks of at most S tokens (the last may be shorter; at least 2). */
export function evalChunks(stream: Int32Array, S: number, bos: number, maxChunks = Infinity): Int32Array[] {
  const out: Int32Array[] = [];
  for (let o = 0; o < stream.length && out.length < maxChunks;) {
    if (stream[o] === bos) o++;
    const n = Math.min(S - 1, stream.length - o);
    if (n < 1) break;
    const c = new Int32Array(n + 1);
    c[0] = bos;
    c.set(stream.subarray(o, o + n), 1);
    out.push(c);
    o += n;
  }
  return out;
}
