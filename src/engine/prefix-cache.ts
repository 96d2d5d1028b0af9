// Context cache: finished prefixes' cache rows (MLA latents, RoPE keys, indexer keys, and the MTP
// layer's) kept in a token-prefix tree in units of 64 tokens, as DeepSeek's API bills them. Evicted
// least-recently-used under a byte budget; optionally persisted to a folder so a restart keeps them.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerCache, ModelCache } from '../model/cache.js';

export const BLOCK_TOKENS = 64;

type Rows = Record<'latentCodes' | 'latentScales' | 'latentF32' | 'pe' | 'indexCodes' | 'indexScales', Uint8Array | Float32Array>;

interface Node {
  key: string;
  parent: Node | null;
  tokens: Int32Array;
  children: Map<string, Node>;
  layers: Rows[];
  mtp: Rows[] | null;
  bytes: number;
  lastUsed: number;
}

const FIELDS = ['latentCodes', 'latentScales', 'latentF32', 'pe', 'indexCodes', 'indexScales'] as const;

function perToken(c: LayerCache): Record<(typeof FIELDS)[number], number> {
  return {
    latentCodes: c.latentFp8 ? c.rank : 0,
    latentScales: c.latentFp8 ? c.rank / 128 : 0,
    latentF32: c.latentFp8 ? 0 : c.rank,
    pe: c.ropeDim,
    indexCodes: c.indexDim,
    indexScales: c.indexDim ? 1 : 0,
  };
}

function sliceRows(c: LayerCache, from: number, n: number): Rows {
  const per = perToken(c);
  const out = {} as Rows;
  for (const f of FIELDS) out[f] = c[f].slice(from * per[f], (from + n) * per[f]);
  return out;
}

function writeRows(c: LayerCache, rows: Rows, at: number): void {
  const per = perToken(c);
  for (const f of FIELDS) (c[f] as Uint8Array | Float32Array).set(rows[f] as never, at * per[f]);
}

const rowsBytes = (r: Rows) => FIELDS.reduce((a, f) => a + r[f].byteLength, 0);

export interface PrefixCacheOptions {
  /** memory budget in bytes (default 256 MiB) */
  budgetBytes?: number;
  /** folder to persist blocks in (loaded at construction) */
  dir?: string;
}

export interface PrefixMatch {
  nodes: Node[];
  /** matched positions (a multiple of 64) */
  length: number;
  /** whether every matched block carries MTP rows */
  hasMtp: boolean;
}

export class PrefixCache {
  private readonly root: Node;
  private clock = 0;
  bytes = 0;
  readonly budget: number;
  readonly dir: string | null;

  /** `modelId` fingerprints the weights: blocks of another model never match. */
  constructor(readonly modelId: string, opts: PrefixCacheOptions = {}) {
    this.budget = opts.budgetBytes ?? 256 * 2 ** 20;
    this.dir = opts.dir ?? null;
    this.root = { key: createHash('sha1').update(`dsv32:${modelId}`).digest('hex'), parent: null, tokens: new Int32Array(0), children: new Map(), layers: [], mtp: null, bytes: 0, lastUsed: 0 };
    if (this.dir) this.load();
  }

  private childKey(parent: Node, tokens: ArrayLike<number>): string {
    return createHash('sha1').update(parent.key).update(new Uint8Array(Int32Array.from(tokens).buffer)).digest('hex');
  }

  get blocks(): number {
    let n = 0;
    const walk = (x: Node) => { for (const c of x.children.values()) { n++; walk(c); } };
    walk(this.root);
    return n;
  }

  /** Longest run of cached full blocks that prefixes `tokens`. */
  match(tokens: ArrayLike<number>): PrefixMatch {
    const nodes: Node[] = [];
    let node = this.root;
    let hasMtp = true;
    for (let b = 0; (b + 1) * BLOCK_TOKENS <= tokens.length; b++) {
      const key = this.childKey(node, Array.prototype.slice.call(tokens, b * BLOCK_TOKENS, (b + 1) * BLOCK_TOKENS));
      const child = node.children.get(key);
      if (!child) break;
      nodes.push(child);
      hasMtp &&= child.mtp !== null;
      node = child;
    }
    const t = ++this.clock;
    for (const n of nodes) n.lastUsed = t;
    return { nodes, length: nodes.length * BLOCK_TOKENS, hasMtp: nodes.length > 0 && hasMtp };
  }

  /** Copies the first `blocks` matched blocks into an empty cache; returns the positions restored. */
  restore(m: PrefixMatch, cache: ModelCache, blocks = m.nodes.length, withMtp = m.hasMtp): number {
    const n = blocks * BLOCK_TOKENS;
    cache.layers.forEach((c) => c.ensure(n));
    if (withMtp) cache.mtp.forEach((c) => c.ensure(n));
    m.nodes.slice(0, blocks).forEach((node, b) => {
      node.layers.forEach((rows, l) => writeRows(cache.layers[l]!, rows, b * BLOCK_TOKENS));
      if (withMtp) node.mtp!.forEach((rows, l) => writeRows(cache.mtp[l]!, rows, b * BLOCK_TOKENS));
    });
    cache.length = n;
    return n;
  }

  /**
   * Stores the full blocks of tokens[0, length) from `cache` that are not cached yet. MTP rows are kept
   * when the MTP caches cover the block (mtpLength positions filled).
   */
  insert(tokens: ArrayLike<number>, cache: ModelCache, length: number, mtpLength = 0): number {
    let node = this.root;
    let added = 0;
    const t = ++this.clock;
    for (let b = 0; (b + 1) * BLOCK_TOKENS <= Math.min(length, tokens.length); b++) {
      const blockTokens = Int32Array.from(Array.prototype.slice.call(tokens, b * BLOCK_TOKENS, (b + 1) * BLOCK_TOKENS) as number[]);
      const key = this.childKey(node, blockTokens);
      let child = node.children.get(key);
      if (!child) {
        const layers = cache.layers.map((c) => sliceRows(c, b * BLOCK_TOKENS, BLOCK_TOKENS));
        const mtp = cache.mtp.length && mtpLength >= (b + 1) * BLOCK_TOKENS ? cache.mtp.map((c) => sliceRows(c, b * BLOCK_TOKENS, BLOCK_TOKENS)) : null;
        const bytes = layers.reduce((a, r) => a + rowsBytes(r), 0) + (mtp ?? []).reduce((a, r) => a + rowsBytes(r), 0);
        child = { key, parent: node, tokens: blockTokens, children: new Map(), layers, mtp, bytes, lastUsed: t };
        node.children.set(key, child);
        this.bytes += bytes;
        added++;
        if (this.dir) this.save(child);
      } else if (!child.mtp && cache.mtp.length && mtpLength >= (b + 1) * BLOCK_TOKENS) {
        child.mtp = cache.mtp.map((c) => sliceRows(c, b * BLOCK_TOKENS, BLOCK_TOKENS));
        const extra = child.mtp.reduce((a, r) => a + rowsBytes(r), 0);
        child.bytes += extra;
        this.bytes += extra;
        if (this.dir) this.save(child);
      }
      child.lastUsed = t;
      node = child;
    }
    this.evict();
    return added;
  }

  /** Drops least-recently-used leaves until under budget. */
  evict(): void {
    while (this.bytes > this.budget) {
      let victim: Node | null = null;
      const walk = (x: Node) => {
        for (const c of x.children.values()) {
          if (c.children.size) walk(c);
          else if (!victim || c.lastUsed < victim.lastUsed) victim = c;
        }
      };
      walk(this.root);
      if (!victim) return;
      this.remove(victim);
    }
  }

  private remove(n: Node): void {
    n.parent?.children.delete(n.key);
    this.bytes -= n.bytes;
    if (this.dir) rmSync(join(this.dir, `${n.key}.blk`), { force: true });
  }

  clear(): void {
    for (const c of [...this.root.children.values()]) {
      const walk = (x: Node) => { for (const k of [...x.children.values()]) walk(k); this.remove(x); };
      walk(c);
    }
  }

  // ---- persistence: one file per block: u32 header length, JSON header, then the arrays' bytes

  private save(n: Node): void {
    const parts: Uint8Array[] = [];
    const layout = (rows: Rows[]) => rows.map((r) => FIELDS.map((f) => { parts.push(new Uint8Array(r[f].buffer, r[f].byteOffset, r[f].byteLength)); return r[f].length; }));
    const header = JSON.stringify({
      v: 1, model: this.modelId, key: n.key, parent: n.parent === this.root ? null : n.parent!.key, tokens: [...n.tokens],
      layers: layout(n.layers), mtp: n.mtp ? layout(n.mtp) : null,
    });
    const hb = Buffer.from(header);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(hb.length);
    mkdirSync(this.dir!, { recursive: true });
    const tmp = join(this.dir!, `${n.key}.tmp`);
    writeFileSync(tmp, Buffer.concat([len, hb, ...parts]));
    renameSync(tmp, join(this.dir!, `${n.key}.blk`));
  }

  private load(): void {
    if (!existsSync(this.dir!)) return;
    interface Rec { key: string; parent: string | null; tokens: number[]; layers: Rows[]; mtp: Rows[] | null; bytes: number }
    const recs = new Map<string, Rec>();
    for (const f of readdirSync(this.dir!)) {
      if (!f.endsWith('.blk')) continue;
      try {
        const buf = readFileSync(join(this.dir!, f));
        const hl = buf.readUInt32LE(0);
        const h = JSON.parse(buf.subarray(4, 4 + hl).toString()) as { v: number; model: string; key: string; parent: string | null; tokens: number[]; layers: number[][]; mtp: number[][] | null };
        if (h.v !== 1 || h.model !== this.modelId) continue; // another model's blocks stay on disk untouched
        let off = 4 + hl;
        const read = (lens: number[][]) => lens.map((ls) => {
          const r = {} as Rows;
          FIELDS.forEach((fld, i) => {
            const isBytes = fld === 'latentCodes' || fld === 'indexCodes';
            const nbytes = ls[i]! * (isBytes ? 1 : 4);
            const copy = new Uint8Array(buf.subarray(off, off + nbytes));
            if (copy.length !== nbytes) throw new Error('truncated block');
            r[fld] = isBytes ? copy : new Float32Array(copy.buffer);
            off += nbytes;
          });
          return r;
        });
        const layers = read(h.layers);
        const mtp = h.mtp ? read(h.mtp) : null;
        recs.set(h.key, { key: h.key, parent: h.parent, tokens: h.tokens, layers, mtp, bytes: off - 4 - hl });
      } catch {
        rmSync(join(this.dir!, f), { force: true }); // a torn write: drop it
      }
    }
    const nodes = new Map<string, Node>();
    const attach = (r: Rec): Node | null => {
      const done = nodes.get(r.key);
      if (done) return done;
      const parentRec = r.parent ? recs.get(r.parent) : null;
      const parent = r.parent ? (parentRec ? attach(parentRec) : null) : this.root;
      if (!parent) return null; // orphan
      const tokens = Int32Array.from(r.tokens);
      if (this.childKey(parent, tokens) !== r.key) return null;
      const n: Node = { key: r.key, parent, tokens, children: new Map(), layers: r.layers, mtp: r.mtp, bytes: r.bytes, lastUsed: 0 };
      parent.children.set(n.key, n);
      nodes.set(n.key, n);
      this.bytes += n.bytes;
      return n;
    };
    for (const r of recs.values()) attach(r);
    this.evict();
  }
}
