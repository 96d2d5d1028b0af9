// A Hugging Face tokenizer.json (byte-level BPE) behind a small, strict API.
// @lenml/tokenizers does the pre-tokenization and BPE merges; added tokens, ids, decoding and
// byte handling are ours so that special tokens are atomic and decoding is exact at the byte level.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { AddedTokenSplitter } from './added-tokens.js';
import { tokenStringToBytes } from './byte-level.js';
import { compileFastPreTokenizer } from './pre-tokenizer.js';

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

export interface EncodeOptions {
  /** Match added/special token strings in the text as single tokens (default true, as HF does).
   *  With false the whole text is ordinary text, e.g. for untrusted content. */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave out tokens marked `special` (BOS, EOS, pad, placeholders). Default false. */
  skipSpecial?: boolean;
}

export interface TokenizerOptions {
  /** Names of the BOS/EOS tokens; default DeepSeek's. */
  bosToken?: string;
  eosToken?: string;
}

// The parts of @lenml's tokenizer object we drive directly (they are callable objects).
interface LenmlPipeline {
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string, options?: { section_index?: number }) => string[]) | null;
  model: (tokens: string[]) => string[];
}

const DEFAULT_BOS = '<｜begin▁of▁sentence｜>';
const DEFAULT_EOS = '<｜end▁of▁sentence｜>';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when the decoder config (possibly a Sequence) contains a ByteLevel decoder. */
function hasByteLevelDecoder(decoder: unknown): boolean {
  if (!isRecord(decoder)) return false;
  if (decoder.type === 'ByteLevel') return true;
  return decoder.type === 'Sequence' && Array.isArray(decoder.decoders) && decoder.decoders.some(hasByteLevelDecoder);
}

export class Tokenizer {
  /** Number of ids (highest id + 1). The model's embedding table may be larger. */
  readonly vocabSize: number;
  /** Ids of added tokens flagged `special` (skipped by decode with skipSpecial). */
  readonly specialIds: ReadonlySet<number>;
  readonly addedTokens: readonly AddedToken[];
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;

  private readonly pipeline: LenmlPipeline;
  private readonly idToTok: (string | undefined)[];
  private readonly tokToId: Map<string, number>;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly splitter: AddedTokenSplitter;
  private readonly bytesCache: (Uint8Array | undefined)[];
  private readonly fastPreTokenizer: ((text: string) => string[]) | null;

  private constructor(json: Record<string, unknown>, opts: TokenizerOptions) {
    const model = json.model;
    if (!isRecord(model) || !isRecord(model.vocab)) throw new TokenizerError('tokenizer.json has no model.vocab');
    if (model.type !== 'BPE') throw new TokenizerError(`unsupported tokenizer model type ${JSON.stringify(model.type)} (only BPE)`);
    if (!hasByteLevelDecoder(json.decoder)) throw new TokenizerError('unsupported tokenizer: only byte-level BPE (ByteLevel decoder) is supported');
    const rawAdded = json.added_tokens ?? [];
    if (!Array.isArray(rawAdded)) throw new TokenizerError('tokenizer.json added_tokens must be an array');

    this.tokToId = new Map();
    this.idToTok = [];
    for (const [tok, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || (id as number) < 0) throw new TokenizerError(`bad id for vocab entry ${JSON.stringify(tok)}`);
      this.tokToId.set(tok, id as number);
      this.idToTok[id as number] = tok;
    }
    const added: AddedToken[] = [];
    for (const a of rawAdded) {
      if (!isRecord(a) || typeof a.content !== 'string' || !Number.isInteger(a.id) || (a.id as number) < 0) {
        throw new TokenizerError(`bad added_tokens entry ${JSON.stringify(a)}`);
      }
      const t: AddedToken = { id: a.id as number, content: a.content, special: a.special === true, lstrip: a.lstrip === true, rstrip: a.rstrip === true };
      added.push(t);
      this.addedById.set(t.id, t);
      // An added token overrides whatever the BPE vocab had at its id or string.
      const old = this.idToTok[t.id];
      if (old !== undefined && this.tokToId.get(old) === t.id && old !== t.content) this.tokToId.delete(old);
      this.tokToId.set(t.content, t.id);
      this.idToTok[t.id] = t.content;
    }
    this.addedTokens = added;
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.splitter = new AddedTokenSplitter(added);
    this.vocabSize = this.idToTok.length;
    this.bytesCache = new Array(this.vocabSize);
    this.bosId = this.tokToId.get(opts.bosToken ?? DEFAULT_BOS);
    this.eosId = this.tokToId.get(opts.eosToken ?? DEFAULT_EOS);

    // @lenml only runs the normalizer, pre-tokenizer and BPE model for us; added tokens are
    // handled above, so it gets none (it would otherwise split them itself).
    let inner: unknown;
    try {
      inner = TokenizerLoader.fromPreTrained({
        tokenizerJSON: { ...json, added_tokens: [] } as never,
        tokenizerConfig: { tokenizer_class: 'PreTrainedTokenizer', clean_up_tokenization_spaces: false } as never,
      });
    } catch (e) {
      throw new TokenizerError(`cannot build tokenizer: ${(e as Error).message}`);
    }
    this.pipeline = inner as LenmlPipeline;
    this.fastPreTokenizer = compileFastPreTokenizer(json.pre_tokenizer);
  }

  /** From a parsed tokenizer.json object. */
  static fromJSON(json: unknown, opts: TokenizerOptions = {}): Tokenizer {
    if (!isRecord(json)) throw new TokenizerError('tokenizer.json must be a JSON object');
    return new Tokenizer(json, opts);
  }

  /** From a tokenizer.json file. */
  static fromFile(path: string, opts: TokenizerOptions = {}): Tokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TokenizerError(`cannot read ${path}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new TokenizerError(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    return Tokenizer.fromJSON(json, opts);
  }

  /** From a model directory holding tokenizer.json (and optionally tokenizer_config.json for BOS/EOS names). */
  static fromDir(dir: string): Tokenizer {
    const file = join(dir, 'tokenizer.json');
    if (!existsSync(file)) throw new TokenizerError(`no tokenizer.json in ${dir}`);
    const opts: TokenizerOptions = {};
    const cfgPath = join(dir, 'tokenizer_config.json');
    if (existsSync(cfgPath)) {
      let cfg: unknown;
      try {
        cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
      } catch (e) {
        throw new TokenizerError(`${cfgPath} is not valid JSON: ${(e as Error).message}`);
      }
      const name = (v: unknown): string | undefined =>
        typeof v === 'string' ? v : isRecord(v) && typeof v.content === 'string' ? v.content : undefined;
      if (isRecord(cfg)) {
        opts.bosToken = name(cfg.bos_token);
        opts.eosToken = name(cfg.eos_token);
      }
    }
    return Tokenizer.fromFile(file, opts);
  }

  /** Token ids for text. Never adds BOS/EOS (the prompt encoder writes BOS itself). */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode expects a string, got ${typeof text}`);
    if (opts.allowSpecial === false) return this.encodePlain(text, 0);
    const sections = this.splitter.split(text);
    // Honour lstrip/rstrip of added tokens (whitespace next to them is eaten), as HF does.
    const texts = sections.map((s) => s.text);
    sections.forEach((s, i) => {
      if (s.id < 0) return;
      const t = this.addedById.get(s.id)!;
      if (t.lstrip && i > 0 && sections[i - 1]!.id < 0) texts[i - 1] = texts[i - 1]!.trimEnd();
      if (t.rstrip && i + 1 < sections.length && sections[i + 1]!.id < 0) texts[i + 1] = texts[i + 1]!.trimStart();
    });
    const ids: number[] = [];
    sections.forEach((s, i) => {
      if (s.id >= 0) ids.push(s.id);
      else for (const id of this.encodePlain(texts[i]!, i)) ids.push(id);
    });
    return ids;
  }

  private encodePlain(text: string, sectionIndex: number): number[] {
    if (text.length === 0) return [];
    const { normalizer, pre_tokenizer, model } = this.pipeline;
    const normalized = normalizer ? normalizer(text) : text;
    if (normalized.length === 0) return [];
    const words = this.fastPreTokenizer
      ? this.fastPreTokenizer(normalized)
      : pre_tokenizer ? pre_tokenizer(normalized, { section_index: sectionIndex }) : [normalized];
    const pieces = model(words);
    const ids = new Array<number>(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const id = this.tokToId.get(pieces[i]!);
      if (id === undefined) throw new TokenizerError(`BPE produced a piece not in the vocabulary: ${JSON.stringify(pieces[i])}`);
      ids[i] = id;
    }
    return ids;
  }

  /** Text for ids. Unknown ids are an error. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new TokenizerError('decode expects an array of token ids');
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      if (opts.skipSpecial && this.specialIds.has(id)) continue;
      const b = this.tokenBytes(id);
      chunks.push(b);
      total += b.length;
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) { all.set(c, off); off += c.length; }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /** The raw bytes a token stands for (UTF-8 of the text for added tokens). Useful for logprobs `bytes`. */
  tokenBytes(id: number): Uint8Array {
    const cached = Number.isInteger(id) ? this.bytesCache[id] : undefined;
    if (cached) return cached;
    const tok = this.idToToken(id);
    if (tok === undefined) throw new TokenizerError(`unknown token id ${id} (vocabulary has ${this.vocabSize} ids)`);
    const bytes = this.addedById.has(id) ? new TextEncoder().encode(tok) : (tokenStringToBytes(tok) ?? new TextEncoder().encode(tok));
    this.bytesCache[id] = bytes;
    return bytes;
  }

  /** The token string for an id (byte-level form for BPE tokens), or undefined. */
  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.idToTok[id];
  }

  /** The id of a token string (byte-level form for BPE tokens), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokToId.get(token);
  }

  /** Whether the id is an added token (special or not), i.e. control markup rather than text. */
  isAddedToken(id: number): boolean {
    return this.addedById.has(id);
  }
}
