// Incremental detokenization for streaming: push generated ids, get back only text that is complete.
// Byte-level tokens can end in the middle of a UTF-8 sequence (emoji, CJK); those bytes are held
// until the sequence completes instead of surfacing as U+FFFD.
import type { Tokenizer } from './tokenizer.js';

export interface StreamDecoderOptions {
  skipSpecial?: boolean;
}

export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly skipSpecial: boolean;
  private produced = '';

  constructor(private readonly tokenizer: Tokenizer, opts: StreamDecoderOptions = {}) {
    this.skipSpecial = opts.skipSpecial ?? false;
  }

  /** Adds one id or several; returns the newly completed text (possibly ''). */
  push(ids: number | readonly number[]): string {
    const list = typeof ids === 'number' ? [ids] : ids;
    let out = '';
    for (const id of list) {
      if (this.skipSpecial && this.tokenizer.specialIds.has(id)) continue;
      // tokenBytes validates the id before the decoder state is touched.
      out += this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
    }
    this.produced += out;
    return out;
  }

  /** Ends the stream: bytes of an unfinished UTF-8 sequence come out as U+FFFD. */
  flush(): string {
    const out = this.decoder.decode();
    this.produced += out;
    return out;
  }

  /** All text returned so far. */
  get text(): string {
    return this.produced;
  }
}
