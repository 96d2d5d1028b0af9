// Reads character vectors out of an R package's lazy-load database (data/Rdata.rdx + Rdata.rdb)
// without R. Only what text data sets need is supported: the XDR serialization format (version 2
// or 3) of a plain character vector (STRSXP of CHARSXPs). Anything else is reported, not guessed.
//
//   Rdata.rdx  gzip of a serialized list; we only need its `variables` element, whose entries are
//              (offset, length) pairs into Rdata.rdb, named by the object names.
//   Rdata.rdb  back-to-back records: u32be uncompressed length, then a zlib stream of the
//              serialized object.
import { readFileSync } from 'node:fs';
import { gunzipSync, inflateSync } from 'node:zlib';

const NILVALUE_SXP = 254;
const STRSXP = 16;
const CHARSXP = 9;
const LGLSXP = 10;
const INTSXP = 13;
const VECSXP = 19;
const LISTSXP = 2;
const SYMSXP = 1;
const REFSXP = 255;
const HAS_ATTR = 1 << 9;
const HAS_TAG = 1 << 10;

/** A minimal cursor over R's XDR (big-endian) serialization. */
class XdrReader {
  private p = 0;
  private readonly refs: string[] = [];
  constructor(private readonly b: Buffer) {}

  header(): void {
    if (this.b.toString('latin1', 0, 2) !== 'X\n') throw new Error('R data: not XDR serialization');
    this.p = 2;
    const version = this.int();
    this.int(); // R version that wrote it
    this.int(); // minimal R version to read it
    if (version === 3) this.p += 4 + this.int(); // native encoding name
    else if (version !== 2) throw new Error(`R data: serialization version ${version}`);
  }

  int(): number {
    const v = this.b.readInt32BE(this.p);
    this.p += 4;
    return v;
  }

  /** Reads one CHARSXP; NA_character_ becomes null. */
  charsxp(): string | null {
    const flags = this.int();
    if ((flags & 0xff) !== CHARSXP) throw new Error(`R data: expected CHARSXP, found type ${flags & 0xff}`);
    const len = this.int();
    if (len === -1) return null;
    // gp bits 2 (LATIN1) vs 3 (UTF8)/5 (ASCII): R writes the bytes as stored.
    const latin1 = (flags >> 12) & 4 && !((flags >> 12) & 8);
    const s = this.b.toString(latin1 ? 'latin1' : 'utf8', this.p, this.p + len);
    this.p += len;
    return s;
  }

  /** Reads a symbol (possibly a back-reference), returning its name. */
  symbol(): string {
    const flags = this.int();
    const type = flags & 0xff;
    if (type === REFSXP) {
      const idx = flags >> 8 || this.int();
      return this.refs[idx - 1] ?? '';
    }
    if (type !== SYMSXP) throw new Error(`R data: expected symbol, found type ${type}`);
    const name = this.charsxp() ?? '';
    this.refs.push(name);
    return name;
  }

  /** Reads a value: character vectors, int/logical vectors and (pair)lists of those; other types throw. */
  value(): unknown {
    const flags = this.int();
    const type = flags & 0xff;
    if (type === NILVALUE_SXP) return null;
    if (type === STRSXP) {
      const n = this.int();
      const out: (string | null)[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = this.charsxp();
      this.skipAttributes(flags);
      return out;
    }
    if (type === INTSXP || type === LGLSXP) {
      const n = this.int();
      const out: number[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = this.int();
      this.skipAttributes(flags);
      return out;
    }
    if (type === VECSXP) {
      const n = this.int();
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) items.push(this.value());
      const attrs = flags & HAS_ATTR ? this.pairlist() : new Map<string, unknown>();
      const names = attrs.get('names');
      if (Array.isArray(names)) return new Map(items.map((v, i) => [String(names[i]), v]));
      return items;
    }
    if (type === LISTSXP) {
      this.p -= 4;
      return this.pairlist();
    }
    throw new Error(`R data: unsupported SEXP type ${type}`);
  }

  private skipAttributes(flags: number): void {
    if (flags & HAS_ATTR) this.pairlist();
  }

  /** Reads a tagged pairlist (attributes) into a Map. */
  private pairlist(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (;;) {
      const flags = this.int();
      const type = flags & 0xff;
      if (type === NILVALUE_SXP) return out;
      if (type !== LISTSXP) throw new Error(`R data: expected pairlist, found type ${type}`);
      if (flags & HAS_ATTR) this.pairlist();
      const tag = flags & HAS_TAG ? this.symbol() : '';
      out.set(tag, this.value());
    }
  }
}

/** Unserializes one R object (XDR format) that is a character vector, int vector or list of those. */
export function unserializeR(buf: Buffer): unknown {
  const r = new XdrReader(buf);
  r.header();
  return r.value();
}

/** Reads every character-vector object of a lazy-load database, keyed by object name. */
export function readLazyLoadStrings(rdxPath: string, rdbPath: string): Map<string, (string | null)[]> {
  const index = unserializeR(gunzipSync(readFileSync(rdxPath)));
  const vars = index instanceof Map ? index.get('variables') : undefined;
  if (!(vars instanceof Map)) throw new Error(`${rdxPath}: no 'variables' index`);
  const rdb = readFileSync(rdbPath);
  const out = new Map<string, (string | null)[]>();
  for (const [name, pos] of vars as Map<string, unknown>) {
    if (!Array.isArray(pos) || pos.length !== 2) throw new Error(`${rdxPath}: bad position for ${name}`);
    const [off, len] = pos as number[];
    const rec = rdb.subarray(off!, off! + len!);
    const obj = unserializeR(inflateSync(rec.subarray(4)));
    if (!Array.isArray(obj) || !obj.every((s) => s === null || typeof s === 'string')) {
      throw new Error(`${rdbPath}: object ${name} is not a character vector`);
    }
    out.set(name, obj as (string | null)[]);
  }
  return out;
}
