// Reads compressed SWORD Bible/commentary modules (zText, zText4, zCom, zCom4 drivers; ZIP compression)
// and turns their OSIS markup into plain paragraphs, one document per chapter.
//
// On-disk layout per testament (`ot`, `nt`), with X = 'b' (book blocks) or 'c' (chapter blocks):
//   ot.Xzs  block index: per block u32le offset, u32le compressed size, u32le uncompressed size
//   ot.Xzz  the zlib-compressed blocks, back to back
//   ot.Xzv  entry (verse) index: per entry u32le block, u32le offset in block, size as u16le (zText,
//           zCom) or u32le (zText4, zCom4)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { type CorpusDoc, cleanLine, decodeXmlEntities } from './corpus-text.js';

interface Entry { block: number; offset: number; size: number }

/** Parses an entry index with the given record size; null when the records do not fit the blocks. */
function parseEntries(buf: Buffer, recSize: 10 | 12, blockSizes: readonly number[]): Entry[] | null {
  if (buf.length % recSize !== 0) return null;
  const out: Entry[] = [];
  for (let p = 0; p < buf.length; p += recSize) {
    const block = buf.readUInt32LE(p);
    const offset = buf.readUInt32LE(p + 4);
    const size = recSize === 10 ? buf.readUInt16LE(p + 8) : buf.readUInt32LE(p + 8);
    if (size === 0) continue;
    if (block >= blockSizes.length || offset + size > blockSizes[block]!) return null;
    out.push({ block, offset, size });
  }
  return out;
}

/**
 * Returns the raw markup of one testament of a module, entries in canonical order joined by a space.
 * Entries that several verses share (commentary links) appear once. The index record size is found
 * by validation, because some modules' .conf name a driver whose record size the files do not use.
 */
export function readSwordTestament(dir: string, testament: 'ot' | 'nt'): string | null {
  const names = readdirSync(dir);
  const zs = names.find((n) => n.startsWith(`${testament}.`) && n.endsWith('zs'));
  if (!zs) return null;
  const kind = zs.slice(testament.length + 1, -2); // 'b' or 'c'
  const zv = join(dir, `${testament}.${kind}zv`);
  const zz = join(dir, `${testament}.${kind}zz`);
  if (!existsSync(zv) || !existsSync(zz)) throw new Error(`SWORD module ${dir}: ${zs} without its .zv/.zz`);

  const bzs = readFileSync(join(dir, zs));
  const data = readFileSync(zz);
  const blocks: Buffer[] = [];
  for (let p = 0; p + 12 <= bzs.length; p += 12) {
    const off = bzs.readUInt32LE(p);
    const len = bzs.readUInt32LE(p + 4);
    blocks.push(len ? inflateSync(data.subarray(off, off + len)) : Buffer.alloc(0));
  }
  const sizes = blocks.map((b) => b.length);
  const idx = readFileSync(zv);
  const entries = parseEntries(idx, 10, sizes) ?? parseEntries(idx, 12, sizes);
  if (!entries) throw new Error(`SWORD module ${dir}: ${testament}.${kind}zv matches neither 10- nor 12-byte records`);

  const seen = new Set<string>();
  const parts: string[] = [];
  for (const e of entries) {
    const key = `${e.block}:${e.offset}:${e.size}`;
    if (seen.has(key)) continue;
    seen.add(key);
    parts.push(blocks[e.block]!.toString('utf8', e.offset, e.offset + e.size));
  }
  return parts.join(' ');
}

// Inline elements whose tags vanish without a trace (a space here would split "God</w>," into "God ,").
const INLINE = new Set([
  'w', 'transchange', 'hi', 'reference', 'q', 'divinename', 'name', 'foreign', 'seg', 'rdg', 'abbr',
  'catchword', 'inscription', 'mentioned', 'a', 'b', 'i', 'em', 'strong', 'font', 'span', 'sup', 'sub',
]);
// Block elements: each start/end/milestone is a paragraph break.
const BLOCK = new Set(['div', 'p', 'lb', 'l', 'lg', 'title', 'row', 'item', 'list', 'br', 'head', 'table', 'speech']);

const DOC_START = '\u0001';
const DOC_ID_END = '\u0002';
const NOTE = '\u0003';

/**
 * Converts OSIS markup to documents: a new document starts at every chapter (`<chapter sID>`) and
 * every book; footnotes and cross-references (`<note>`) are dropped; titles and paragraphs become
 * separate lines.
 */
export function osisToDocs(osis: string, idPrefix: string): CorpusDoc[] {
  const text = osis
    // A dropped note still separates words ("God<note/>created") but not a word from its punctuation.
    .replace(/<note\b[^>]*\/>|<note\b[^>]*>[\s\S]*?<\/note>/g, NOTE)
    .replace(/\u0003+(?=\s|[.,;:!?)\]”’'"]|$)/g, '')
    .replace(/\u0003+/g, ' ')
    .replace(/<(\/?)([A-Za-z][\w:-]*)([^>]*)>/g, (_m, close: string, rawName: string, attrs: string) => {
      const name = rawName.toLowerCase();
      if (!close && (name === 'chapter' || (name === 'div' && /\btype="book"/.test(attrs))) && /\bsID="/.test(attrs)) {
        const id = /\bosisID="([^"]*)"/.exec(attrs)?.[1] ?? '';
        return `\n${DOC_START}${id}${DOC_ID_END}\n`;
      }
      if (name === 'cell') return ' ';
      if (BLOCK.has(name)) return '\n';
      if (INLINE.has(name)) return '';
      return ' ';
    })
    .replace(/¶/g, ' ');

  const docs: CorpusDoc[] = [];
  let n = 0;
  for (const chunk of decodeXmlEntities(text).split(DOC_START)) {
    const cut = chunk.indexOf(DOC_ID_END);
    const osisId = cut >= 0 ? chunk.slice(0, cut) : '';
    const body = cut >= 0 ? chunk.slice(cut + 1) : chunk;
    const paragraphs = body.split('\n').map(cleanLine).filter((p) => p.length > 0);
    if (paragraphs.length) docs.push({ id: `${idPrefix}:${n}:${osisId}`, paragraphs });
    n++;
  }
  return docs;
}

/** All documents of a SWORD module directory (Old Testament first). */
export function readSwordModule(dir: string, idPrefix: string): CorpusDoc[] {
  const osis = (['ot', 'nt'] as const).map((t) => readSwordTestament(dir, t) ?? '').join(' ');
  return osisToDocs(osis, idPrefix);
}
