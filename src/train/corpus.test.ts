import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { dictdNumber, parseDictd } from './corpus-dictd.js';
import { readLazyLoadStrings, unserializeR } from './corpus-rdata.js';
import { jargonEntries, splitChapters } from './corpus-sources.js';
import { readSwordModule } from './corpus-sword.js';
import { cleanLine, decodeXmlEntities, isHeldOut, renderDocs, unwrapParagraphs } from './corpus-text.js';

// --- R serialization (XDR) writers, just enough to build test inputs ---
const i32 = (...v: number[]) => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeInt32BE(x, 4 * i)); return b; };
const charsxp = (s: string | null) => (s === null ? i32(9, -1) : Buffer.concat([i32(0x8009, Buffer.byteLength(s)), Buffer.from(s)]));
const strsxp = (v: (string | null)[]) => Buffer.concat([i32(16, v.length), ...v.map(charsxp)]);
const header = i32(3, 0x40201, 0x30500, 5).subarray(0); // version 3, then the 5-byte native encoding name
const serialize = (body: Buffer) => Buffer.concat([Buffer.from('X\n'), header, Buffer.from('UTF-8'), body]);
// A named list: VECSXP with a `names` attribute (the tag symbol written out the first time, then by reference).
function namedList(items: [string, Buffer][], namesSym: 'new' | 'ref'): Buffer {
  const tag = namesSym === 'new' ? Buffer.concat([i32(1), charsxp('names')]) : i32((1 << 8) | 255);
  return Buffer.concat([i32(0x213, items.length), ...items.map(([, v]) => v), i32(0x402), tag, strsxp(items.map(([k]) => k)), i32(254)]);
}

test('unserializeR reads character vectors, including NA and non-ASCII', () => {
  assert.deepEqual(unserializeR(serialize(strsxp(['Emma', '', null, 'café']))), ['Emma', '', null, 'café']);
  assert.throws(() => unserializeR(serialize(i32(14, 1, 0, 0))), /unsupported SEXP type 14/);
});

test('readLazyLoadStrings reads a package data/Rdata.rdx + Rdata.rdb pair', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rdata-'));
  try {
    const objs: [string, string[]][] = [['emma', ['EMMA', 'CHAPTER I', 'Emma Woodhouse']], ['persuasion', ['Persuasion']]];
    const records = objs.map(([, v]) => { const z = deflateSync(serialize(strsxp(v))); return Buffer.concat([i32(0), z]); });
    let off = 0;
    const positions = records.map((r) => { const p = i32(13, 2, off, r.length); off += r.length; return p; });
    const variables = namedList(objs.map(([k], i) => [k, positions[i]!]), 'new');
    writeFileSync(join(dir, 'Rdata.rdx'), gzipSync(serialize(namedList([['variables', variables]], 'ref'))));
    writeFileSync(join(dir, 'Rdata.rdb'), Buffer.concat(records));
    assert.deepEqual(readLazyLoadStrings(join(dir, 'Rdata.rdx'), join(dir, 'Rdata.rdb')), new Map(objs));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('readSwordModule decodes a zText module into chapter documents without markup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sword-'));
  try {
    const verses = [
      '<div type="book" osisID="Gen" sID="b1"/><title type="main">Genesis</title><chapter osisID="Gen.1" sID="Gen.1"/><w lemma="strong:H7225">In</w> the <w>beginning</w><note placement="foot">a footnote</note>, God &amp; the earth.',
      '<div sID="p1" type="x-p"/>Second <transChange type="added">verse</transChange>.',
      '<chapter osisID="Gen.2" sID="Gen.2"/>Chapter two ¶ text.<lb/>“Quoted” line.',
    ];
    const block = Buffer.from(verses.join(''));
    const z = deflateSync(block);
    const bzs = Buffer.alloc(12); bzs.writeUInt32LE(0, 0); bzs.writeUInt32LE(z.length, 4); bzs.writeUInt32LE(block.length, 8);
    const idx: Buffer[] = [Buffer.alloc(10), Buffer.alloc(10)]; // module and testament headings: empty
    let o = 0;
    for (const v of verses) {
      const e = Buffer.alloc(10); const n = Buffer.byteLength(v);
      e.writeUInt32LE(0, 0); e.writeUInt32LE(o, 4); e.writeUInt16LE(n, 8); o += n; idx.push(e);
    }
    writeFileSync(join(dir, 'ot.bzs'), bzs);
    writeFileSync(join(dir, 'ot.bzz'), z);
    writeFileSync(join(dir, 'ot.bzv'), Buffer.concat(idx));
    const docs = readSwordModule(dir, 't');
    assert.deepEqual(docs.map((d) => d.paragraphs), [
      ['Genesis'],
      ['In the beginning, God & the earth.', 'Second verse.'],
      ['Chapter two text.', '“Quoted” line.'],
    ]);
    assert.deepEqual(docs.map((d) => d.id), ['t:1:Gen', 't:2:Gen.1', 't:3:Gen.2']);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('dictd index numbers and entries', () => {
  assert.equal(dictdNumber('A'), 0);
  assert.equal(dictdNumber('BA'), 64);
  assert.equal(dictdNumber('c'), 28);
  const dict = Buffer.from('00-database-short\nX\nABASEMENT, n.  Decent.\n');
  const entries = parseDictd('00databaseshort\tA\tU\nabasement\tU\tX\n', dict);
  assert.deepEqual(entries, [{ headword: 'abasement', text: 'ABASEMENT, n.  Decent.\n' }]);
});

test('text helpers: entities, whitespace, unwrapping, rendering', () => {
  assert.equal(decodeXmlEntities('a &amp; b &#x263A; &#65; &bogus;'), 'a & b ☺ A &bogus;');
  assert.equal(cleanLine('  a\u00a0\u00a0b\tc\u200b '), 'a b c');
  assert.deepEqual(unwrapParagraphs(['one', 'two', '', '', 'three', '    verse line', 'four']), ['one two', 'three verse line four']);
  assert.deepEqual(unwrapParagraphs(['one', '    two']), ['one two']);
  assert.deepEqual(unwrapParagraphs(['one', '    two'], 4), ['one', 'two']);
  assert.equal(renderDocs([{ id: 'a', paragraphs: ['p1', 'p2'] }, { id: 'b', paragraphs: [] }, { id: 'c', paragraphs: ['p3'] }]), 'p1\np2\n\np3\n');
});

test('held-out split is deterministic and close to the requested fraction', () => {
  const ids = Array.from({ length: 4000 }, (_, i) => `doc${i}`);
  const held = ids.filter((id) => isHeldOut('src', id, 0.03));
  assert.deepEqual(held, ids.filter((id) => isHeldOut('src', id, 0.03)));
  assert.ok(held.length > 80 && held.length < 160, `${held.length} of 4000`);
  assert.notDeepEqual(held, ids.filter((id) => isHeldOut('other', id, 0.03)));
});

test('novels split at chapter headings; underscores of emphasis dropped', () => {
  const docs = splitChapters('emma', ['EMMA', '', 'CHAPTER I', '', 'Emma was _very_ rich', 'and clever.', '', 'Chapter 2', 'Next.', null]);
  assert.deepEqual(docs.map((d) => d.paragraphs), [['EMMA'], ['CHAPTER I', 'Emma was very rich and clever.'], ['Chapter 2 Next.']]);
});

test('Jargon File: one document per entry, letter indexes and tables skipped, {links} unwrapped', () => {
  const text = [
    'front matter', '   :(TM): //', '', '   [Usenet] ASCII rendition of the {TM}', '   sign.', '',
    '  B', '', '   back door', '', '   bar', '', '   :bar: /bar/, n.', '', '   1. The second {metasyntactic variable}.',
    '   │ table │', '', '                             Part\u00a0III.\u00a0Appendices', '   appendix text',
  ].join('\n');
  assert.deepEqual(jargonEntries(text).map((d) => d.paragraphs), [
    ['(TM): //', '[Usenet] ASCII rendition of the TM sign.'],
    ['bar: /bar/, n.', '1. The second metasyntactic variable.'],
  ]);
});
