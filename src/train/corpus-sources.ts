// The corpus sources: which Debian package each comes from, how its text is extracted, and the
// license as stated in the package's copyright file. All are public domain (the janeaustenr R
// package itself is MIT; the novels it holds are public domain).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readDictd } from './corpus-dictd.js';
import { readLazyLoadStrings } from './corpus-rdata.js';
import { readSwordModule } from './corpus-sword.js';
import { type CorpusDoc, cleanLine, unwrapParagraphs } from './corpus-text.js';

export interface CorpusSource {
  /** Short name used in document ids and reports. */
  name: string;
  title: string;
  /** Debian package holding the text. */
  pkg: string;
  /** License of the text, in short (the script quotes the copyright file beside it). */
  license: string;
  /** Extracts the documents from the package unpacked at `root`. */
  extract(root: string): CorpusDoc[];
}

/** `_emphasis_` in Gutenberg-style plain text: keep the words, drop the underscores. */
function dropUnderscoreEmphasis(s: string): string {
  return s.replace(/(^|[^\w])_([^_]+)_(?=[^\w]|$)/g, '$1$2');
}

/** Splits novel lines into chapters at headings like "CHAPTER IV" / "Chapter 12". */
export function splitChapters(book: string, lines: readonly (string | null)[]): CorpusDoc[] {
  const docs: CorpusDoc[] = [];
  let cur: string[] = [];
  const flush = () => {
    const paragraphs = unwrapParagraphs(cur).map(dropUnderscoreEmphasis).map(cleanLine).filter(Boolean);
    if (paragraphs.length) docs.push({ id: `${book}:${docs.length}`, paragraphs });
    cur = [];
  };
  for (const raw of lines) {
    const line = raw ?? '';
    if (/^\s*chapter\s+([ivxlc]+|\d+)\.?\s*$/i.test(line)) flush();
    cur.push(line);
  }
  flush();
  return docs;
}

/** The Jargon File lexicon: one document per `:headword: ...` entry (front matter and appendices skipped). */
export function jargonEntries(text: string): CorpusDoc[] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => /^ {3}:[^ ].*:/.test(l));
  const end = lines.findIndex((l, i) => i > first && /^\s*Part\sIII\.\sAppendices\s*$/.test(l));
  if (first < 0 || end < 0) throw new Error('jargon: lexicon boundaries not found');
  const docs: CorpusDoc[] = [];
  let cur: string[] = [];
  const flush = () => {
    const paragraphs = unwrapParagraphs(cur)
      .map((p) => cleanLine(p.replace(/^:([^:]+):/, '$1:').replace(/\{([^{}]+)\}/g, '$1')))
      .filter(Boolean);
    if (paragraphs.length) docs.push({ id: `jargon:${docs.length}`, paragraphs });
    cur = [];
  };
  let inLetterIndex = false;
  for (const line of lines.slice(first, end)) {
    if (/^ {3}:[^ ].*:/.test(line)) {
      flush();
      inLetterIndex = false;
    } else if (/^\s*[A-Z0-9]\s*$/.test(line)) {
      inLetterIndex = true; // a letter heading, followed by the list of that letter's headwords
    }
    if (inLetterIndex || /[\u2500-\u257f]/.test(line)) continue; // ...and box-drawing table rows
    cur.push(line);
  }
  flush();
  return docs;
}

const sword = (root: string, sub: string, name: string) => readSwordModule(join(root, 'usr/share/sword/modules', sub), name);

export const CORPUS_SOURCES: readonly CorpusSource[] = [
  {
    name: 'austen',
    title: "Jane Austen's six completed novels",
    pkg: 'r-cran-janeaustenr',
    license: 'Novels: public domain (published 1811–1818). R package: MIT.',
    extract(root) {
      const dir = join(root, 'usr/lib/R/site-library/janeaustenr/data');
      const books = readLazyLoadStrings(join(dir, 'Rdata.rdx'), join(dir, 'Rdata.rdb'));
      return [...books].flatMap(([book, lines]) => splitChapters(book, lines));
    },
  },
  {
    name: 'web',
    title: 'World English Bible with Deuterocanon',
    pkg: 'sword-text-web',
    license: 'Public domain',
    extract: (root) => sword(root, 'texts/ztext/engWEB2015eb', 'web'),
  },
  {
    name: 'kjv',
    title: 'King James Version (1769 text)',
    pkg: 'sword-text-kjv',
    license: 'Public domain (outside the UK; Crown letters patent apply in the UK only)',
    extract: (root) => sword(root, 'texts/ztext/engKJV2006eb', 'kjv'),
  },
  {
    name: 'mhcc',
    title: "Matthew Henry's Concise Commentary on the Whole Bible",
    pkg: 'sword-comm-mhcc',
    license: 'Public domain',
    extract: (root) => sword(root, 'comments/zcom/mhcc', 'mhcc'),
  },
  {
    name: 'scofield',
    title: 'Scofield Reference Notes (1917 edition)',
    pkg: 'sword-comm-scofield',
    license: 'Public domain',
    extract: (root) => sword(root, 'comments/zcom/scofield', 'scofield'),
  },
  {
    name: 'jargon',
    title: 'The Jargon File 4.4.7 (lexicon entries)',
    pkg: 'jargon-text',
    license: 'Public domain (text); Debian packaging scripts GPL',
    extract: (root) => jargonEntries(gunzipSync(readFileSync(join(root, 'usr/share/doc/jargon-text/jargon.txt.gz'))).toString('utf8')),
  },
  {
    name: 'devil',
    title: "Ambrose Bierce, The Devil's Dictionary",
    pkg: 'dict-devil',
    license: 'Public domain (copyright expired)',
    extract(root) {
      const dir = join(root, 'usr/share/dictd');
      const seen = new Set<string>();
      const docs: CorpusDoc[] = [];
      for (const e of readDictd(join(dir, 'devil.index'), join(dir, 'devil.dict.dz'))) {
        if (seen.has(e.text)) continue; // several headwords can share one definition
        seen.add(e.text);
        const paragraphs = unwrapParagraphs(e.text.split('\n'), 4).map(dropUnderscoreEmphasis).map(cleanLine).filter(Boolean);
        if (paragraphs.length) docs.push({ id: e.headword, paragraphs });
      }
      return docs;
    },
  },
];
