// API-key check for `Authorization: Bearer <key>`. Keys are compared as SHA-256 digests with
// timingSafeEqual (equal lengths, no early exit), and every configured key is tried, so the time taken
// says nothing about how much of a key was right or which key matched.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.filter((k) => k.length > 0).map(digest);
  }

  /** No keys configured: the server is open (it binds to loopback by default). */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /** Whether an Authorization header value carries a configured key. */
  check(header: string | string[] | undefined): boolean {
    if (this.open) return true;
    const value = Array.isArray(header) ? header[0] : header;
    const m = typeof value === 'string' ? /^Bearer\s+(.+)$/i.exec(value.trim()) : null;
    const given = digest(m ? m[1]!.trim() : '');
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    return ok && m !== null;
  }
}
