// Plain-text conventions shared by the corpus extractors, and the deterministic held-out split.
//
// Corpus file format (train.txt / heldout.txt): one paragraph per line, documents separated by one
// blank line. No other markup; UTF-8, NFC, `\n` line ends.
import { createHash } from 'node:crypto';

/** One document of the corpus: a chapter, a dictionary entry, a commentary chapter. */
export interface CorpusDoc {
  /** Stable identifier, unique within its source (drives the held-out split). */
  id: string;
  /** Paragraphs of clean text, each a single line. */
  paragraphs: string[];
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Decodes the XML character references that appear in OSIS text. Unknown named ones stay as they are. */
export function decodeXmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED_ENTITIES[body] ?? m;
  });
}

/** Collapses runs of whitespace (including no-break and zero-width spaces) to one space and trims. */
export function cleanLine(s: string): string {
  return s
    .normalize('NFC')
    .replace(/[\u200b\u200c\u200d\ufeff\u00ad]/g, '') // invisible joiners / soft hyphens carry nothing for a tiny LM
    .replace(/[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+/g, ' ')
    .trim();
}

/**
 * Splits hard-wrapped text into paragraphs: blank lines separate paragraphs, the lines of one
 * paragraph are joined with a space. With `verseIndent`, a line indented by at least that many
 * spaces (verse, quoted letters) stays a line of its own.
 */
export function unwrapParagraphs(lines: readonly string[], verseIndent = Infinity): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  const flush = () => {
    const p = cleanLine(cur.join(' '));
    if (p) out.push(p);
    cur = [];
  };
  for (const line of lines) {
    if (line.trim() === '') flush();
    else if (line.length - line.trimStart().length >= verseIndent) {
      flush();
      cur.push(line);
      flush();
    } else cur.push(line);
  }
  flush();
  return out;
}

/**
 * Whether a document belongs to the held-out split: a hash of `source/id` below `fraction`.
 * Hash-based, so it is deterministic and does not move when other documents are added or removed.
 */
export function isHeldOut(source: string, id: string, fraction: number): boolean {
  const h = createHash('sha256').update(`${source}/${id}`).digest();
  return h.readUInt32BE(0) / 2 ** 32 < fraction;
}

/** Renders documents in the corpus file format. */
export function renderDocs(docs: Iterable<CorpusDoc>): string {
  const parts: string[] = [];
  for (const d of docs) if (d.paragraphs.length) parts.push(d.paragraphs.join('\n'));
  return parts.length ? parts.join('\n\n') + '\n' : '';
}
