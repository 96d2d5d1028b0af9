// Reads a dictd database (.index + .dict or .dict.dz) into (headword, definition text) entries.
// .dict.dz is dictzip, which is a valid gzip stream, so plain gunzip reads all of it.
// .index lines: headword TAB offset TAB length, numbers in dictd's base64 digits.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes a dictd base64 number (most significant digit first). */
export function dictdNumber(s: string): number {
  let n = 0;
  for (const ch of s) {
    const d = DIGITS.indexOf(ch);
    if (d < 0) throw new Error(`dictd: bad digit ${JSON.stringify(ch)} in ${JSON.stringify(s)}`);
    n = n * 64 + d;
  }
  return n;
}

export interface DictdEntry { headword: string; text: string }

/** Entries in index order, without the `00-database-*` metadata entries. */
export function parseDictd(index: string, dict: Buffer): DictdEntry[] {
  const out: DictdEntry[] = [];
  for (const line of index.split('\n')) {
    if (!line) continue;
    const [headword, off, len] = line.split('\t');
    if (headword === undefined || off === undefined || len === undefined) throw new Error(`dictd: bad index line ${JSON.stringify(line)}`);
    if (headword.startsWith('00database') || headword.startsWith('00-database')) continue;
    const start = dictdNumber(off);
    out.push({ headword, text: dict.toString('utf8', start, start + dictdNumber(len)) });
  }
  return out;
}

export function readDictd(indexPath: string, dictPath: string): DictdEntry[] {
  const raw = readFileSync(dictPath);
  return parseDictd(readFileSync(indexPath, 'utf8'), dictPath.endsWith('.dz') ? gunzipSync(raw) : raw);
}
