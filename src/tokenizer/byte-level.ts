// GPT-2 style byte-level alphabet: every byte 0..255 is written as one printable Unicode character
// in the BPE vocabulary, so token strings can be mapped back to raw bytes.

function buildByteToChar(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  const isPrintable = new Set(printable);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    // Printable bytes keep their own code point; the rest are shifted past 255 in byte order.
    table[b] = String.fromCharCode(isPrintable.has(b) ? b : 256 + next++);
  }
  return table;
}

/** byte → the character standing for it in byte-level BPE token strings */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** character → byte (inverse of BYTE_TO_CHAR) */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** Bytes of a byte-level token string, or null if it has a character outside the byte alphabet. */
export function tokenStringToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  let n = 0;
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** The byte-level token string for UTF-8 text (what the BPE model sees). */
export function textToByteLevel(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}
