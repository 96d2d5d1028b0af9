// GGUF v3, llama.cpp's model file: "GGUF", version, counts, typed key/value metadata, a table of tensors
// (name, dims fastest-varying first, ggml type, offset into the data section), then the tensor data, every
// tensor aligned to `general.alignment` (32). Written streaming: tensor bytes are produced one at a time, so
// a model never has to sit in memory twice. Also the ggml encodings a converter needs (F32/F16/BF16/Q8_0).
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { f32ToBf16 } from './dtype.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** ggml tensor types this writer can encode (ids from ggml.h). */
export const GGML_TYPES = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPES;

/** Q8_0: blocks of 32 int8 with one f16 scale (34 bytes). */
export const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 34;

/** Bytes of one row of `ne0` elements. */
export function ggmlRowBytes(type: GgmlType, ne0: number): number {
  switch (type) {
    case 'F32': return ne0 * 4;
    case 'F16': case 'BF16': return ne0 * 2;
    case 'Q8_0':
      if (ne0 % Q8_0_BLOCK) throw new Error(`Q8_0 rows need a multiple of ${Q8_0_BLOCK} elements (got ${ne0})`);
      return (ne0 / Q8_0_BLOCK) * Q8_0_BYTES;
  }
}

export function ggmlTensorBytes(type: GgmlType, ne: readonly number[]): number {
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i]!;
  return ggmlRowBytes(type, ne[0]!) * rows;
}

// ---- metadata values -------------------------------------------------------------------------------

/** GGUF metadata value type ids. */
export const GGUF_VALUE_TYPES = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;
type Scalar = Exclude<keyof typeof GGUF_VALUE_TYPES, 'array' | 'string' | 'bool'>;

export type GgufValue =
  | { type: Scalar; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: Scalar | 'bool' | 'string'; value: readonly (number | boolean | string)[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  arr: (itemType: Scalar | 'bool' | 'string', value: readonly (number | boolean | string)[]): GgufValue => ({ type: 'array', itemType, value }),
};

/** Appends little-endian bytes to a growing buffer (metadata and the tensor table are small). */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void { this.room(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  i8(v: number): void { this.room(1); this.buf.writeInt8(v, this.length); this.length += 1; }
  u16(v: number): void { this.room(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
  i16(v: number): void { this.room(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number): void { this.room(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  f32(v: number): void { this.room(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  f64(v: number): void { this.room(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
  u64(v: number | bigint): void { this.room(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  i64(v: number | bigint): void { this.room(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8; }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  zeros(n: number): void { this.room(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }

  scalar(type: Scalar | 'bool' | 'string', v: number | boolean | string): void {
    if (type === 'string') {
      if (typeof v !== 'string') throw new TypeError(`GGUF string value expected, got ${typeof v}`);
      this.str(v);
      return;
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw new TypeError(`GGUF bool value expected, got ${typeof v}`);
      this.u8(v ? 1 : 0);
      return;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`GGUF ${type} value must be a finite number (got ${String(v)})`);
    if (type !== 'f32' && type !== 'f64' && !Number.isInteger(v)) throw new TypeError(`GGUF ${type} value must be an integer (got ${v})`);
    this[type](v);
  }
}

// ---- tensors -------------------------------------------------------------------------------------------

export interface GgufTensor {
  name: string;
  /** ggml dims, fastest-varying first: a torch [out, in] weight is ne = [in, out] */
  ne: number[];
  type: GgmlType;
  /** the encoded bytes, produced when the writer reaches this tensor */
  data: () => Uint8Array;
}

export interface GgufWriteResult {
  bytes: number;
  /** offset of the data section in the file */
  dataOffset: number;
  tensors: { name: string; offset: number; bytes: number }[];
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Writes a GGUF v3 file. `metadata` keys are written in order (general.architecture first by convention);
 * tensor data follows in the order given, each at an offset that is a multiple of the alignment.
 */
export function writeGguf(path: string, metadata: readonly [string, GgufValue][], tensors: readonly GgufTensor[],
  opts: { alignment?: number; onTensor?: (done: number, total: number) => void } = {}): GgufWriteResult {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const keys = new Set<string>();
  for (const [k] of metadata) {
    if (keys.has(k)) throw new Error(`GGUF metadata key "${k}" given twice`);
    keys.add(k);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor "${t.name}" given twice`);
    if (Buffer.byteLength(t.name) > 64) throw new Error(`GGUF tensor name "${t.name}" is longer than ggml's 64 bytes`);
    if (!t.ne.length || t.ne.length > 4 || t.ne.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`GGUF tensor "${t.name}": bad dims ${JSON.stringify(t.ne)}`);
    names.add(t.name);
  }
  const meta = [...metadata];
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && !keys.has('general.alignment')) meta.push(['general.alignment', gguf.u32(alignment)]);

  const h = new ByteSink();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(meta.length);
  for (const [k, v] of meta) {
    h.str(k);
    h.u32(GGUF_VALUE_TYPES[v.type]);
    if (v.type === 'array') {
      h.u32(GGUF_VALUE_TYPES[v.itemType]);
      h.u64(v.value.length);
      for (const x of v.value) h.scalar(v.itemType, x);
    } else {
      h.scalar(v.type, v.value);
    }
  }
  const table: GgufWriteResult['tensors'] = [];
  let off = 0;
  for (const t of tensors) {
    const bytes = ggmlTensorBytes(t.type, t.ne);
    h.str(t.name);
    h.u32(t.ne.length);
    for (const d of t.ne) h.u64(d);
    h.u32(GGML_TYPES[t.type]);
    h.u64(off);
    table.push({ name: t.name, offset: off, bytes });
    off = align(off + bytes, alignment);
  }
  const dataOffset = align(h.length, alignment);
  h.zeros(dataOffset - h.length);

  const fd = openSync(path, 'w');
  try {
    writeAll(fd, h.bytes());
    let pos = 0;
    const pad = Buffer.alloc(alignment);
    tensors.forEach((t, i) => {
      const want = table[i]!;
      if (pos < want.offset) { writeAll(fd, pad.subarray(0, want.offset - pos)); pos = want.offset; }
      const b = t.data();
      if (b.byteLength !== want.bytes) throw new Error(`GGUF tensor "${t.name}": produced ${b.byteLength} bytes, ${t.type}${JSON.stringify(t.ne)} needs ${want.bytes}`);
      writeAll(fd, b);
      pos += b.byteLength;
      opts.onTensor?.(i + 1, tensors.length);
    });
    const end = align(pos, alignment);
    if (end > pos) writeAll(fd, pad.subarray(0, end - pos));
    return { bytes: dataOffset + end, dataOffset, tensors: table };
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  // writeSync may write less than asked for large buffers
  for (let done = 0; done < b.byteLength;) done += writeSync(fd, b, done, Math.min(b.byteLength - done, 1 << 30));
}

// ---- reading back (tests, reports) -------------------------------------------------------------------

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: { name: string; ne: number[]; type: GgmlType | number; offset: number }[];
  alignment: number;
  /** absolute file offset of the data section */
  dataOffset: number;
}

const TYPE_BY_ID = new Map<number, GgmlType>(Object.entries(GGML_TYPES).map(([k, v]) => [v, k as GgmlType]));
const VALUE_TYPE_BY_ID = new Map<number, keyof typeof GGUF_VALUE_TYPES>(Object.entries(GGUF_VALUE_TYPES).map(([k, v]) => [v, k as keyof typeof GGUF_VALUE_TYPES]));

/** Parses the header, metadata and tensor table of GGUF bytes (the file's start; data is not read). */
export function parseGgufHeader(buf: Uint8Array): GgufHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const need = (n: number) => { if (p + n > buf.byteLength) throw new Error(`GGUF header truncated at byte ${p}`); };
  const u32 = () => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = Number(dv.getBigUint64(p, true)); p += 8; return v; };
  const str = () => { const n = u64(); need(n); const s = new TextDecoder().decode(buf.subarray(p, p + n)); p += n; return s; };
  const scalar = (t: keyof typeof GGUF_VALUE_TYPES): number | boolean | string => {
    switch (t) {
      case 'u8': need(1); return dv.getUint8(p++);
      case 'i8': need(1); return dv.getInt8(p++);
      case 'bool': need(1); return dv.getUint8(p++) !== 0;
      case 'u16': { need(2); const v = dv.getUint16(p, true); p += 2; return v; }
      case 'i16': { need(2); const v = dv.getInt16(p, true); p += 2; return v; }
      case 'u32': return u32();
      case 'i32': { need(4); const v = dv.getInt32(p, true); p += 4; return v; }
      case 'f32': { need(4); const v = dv.getFloat32(p, true); p += 4; return v; }
      case 'u64': return u64();
      case 'i64': { need(8); const v = Number(dv.getBigInt64(p, true)); p += 8; return v; }
      case 'f64': { need(8); const v = dv.getFloat64(p, true); p += 8; return v; }
      case 'string': return str();
      case 'array': throw new Error('GGUF nested arrays are not supported');
    }
  };
  const vtype = () => {
    const id = u32();
    const t = VALUE_TYPE_BY_ID.get(id);
    if (!t) throw new Error(`GGUF value type ${id} unknown`);
    return t;
  };
  if (u32() !== GGUF_MAGIC) throw new Error('not a GGUF file (bad magic)');
  const version = u32();
  const nTensors = u64();
  const nKv = u64();
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const t = vtype();
    if (t === 'array') {
      const it = vtype();
      const n = u64();
      const value: (number | boolean | string)[] = [];
      for (let j = 0; j < n; j++) value.push(scalar(it));
      metadata.set(key, { type: 'array', itemType: it as Exclude<typeof it, 'array'>, value });
    } else {
      metadata.set(key, { type: t, value: scalar(t) } as GgufValue);
    }
  }
  const tensors: GgufHeader['tensors'] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, () => u64());
    const tid = u32();
    tensors.push({ name, ne, type: TYPE_BY_ID.get(tid) ?? tid, offset: u64() });
  }
  const al = metadata.get('general.alignment');
  const alignment = al && al.type === 'u32' ? al.value : GGUF_DEFAULT_ALIGNMENT;
  return { version, metadata, tensors, alignment, dataOffset: align(p, alignment) };
}

/** Reads a GGUF file's header (growing the read until the whole tensor table fits). */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    for (let n = Math.min(size, 1 << 20); ; n = Math.min(size, n * 4)) {
      const b = Buffer.alloc(n);
      readSync(fd, b, 0, n, 0);
      try {
        return parseGgufHeader(b);
      } catch (e) {
        if (n >= size || !(e as Error).message.includes('truncated')) throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

// ---- encodings -------------------------------------------------------------------------------------------

const f32b = new Float32Array(1);
const u32b = new Uint32Array(f32b.buffer);

/** fp32 → IEEE half bits, round-to-nearest-even, overflow to ±inf, subnormals kept (as ggml's converter). */
export function f32ToF16(x: number): number {
  f32b[0] = x;
  const b = u32b[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000; // implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = man & ((1 << shift) - 1);
    let h = man >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry rolls into the exponent correctly
  return sign | h;
}

/** llama.cpp's quantize_row_q8_0_ref: d = amax/127 (stored f16), q = round-half-away(x/d). `n` a multiple of 32. */
export function quantizeQ8_0(x: Float32Array, out?: Uint8Array): Uint8Array {
  const n = x.length;
  if (n % Q8_0_BLOCK) throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values (got ${n})`);
  const o = out ?? new Uint8Array((n / Q8_0_BLOCK) * Q8_0_BYTES);
  const dv = new DataView(o.buffer, o.byteOffset, o.byteLength);
  for (let b = 0, p = 0; b < n; b += Q8_0_BLOCK, p += Q8_0_BYTES) {
    let amax = 0;
    for (let i = b; i < b + Q8_0_BLOCK; i++) { const a = Math.abs(x[i]!); if (a > amax) amax = a; }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(p, f32ToF16(d), true);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const v = Math.fround(x[b + i]! * id);
      const r = v < 0 ? -Math.round(-v) : Math.round(v); // roundf: halves away from zero
      o[p + 2 + i] = r & 0xff;
    }
  }
  return o;
}

/** fp32 values → bytes of `type` (rows of `ne0`, which Q8_0 needs a multiple of 32 of). */
export function encodeTensor(values: Float32Array, type: GgmlType, ne0: number): Uint8Array {
  if (values.length % ne0) throw new Error(`${values.length} values are not whole rows of ${ne0}`);
  switch (type) {
    case 'F32': return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16': {
      const u = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) u[i] = f32ToF16(values[i]!);
      return new Uint8Array(u.buffer);
    }
    case 'BF16': {
      const u = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) u[i] = f32ToBf16(values[i]!);
      return new Uint8Array(u.buffer);
    }
    case 'Q8_0':
      ggmlRowBytes('Q8_0', ne0); // validates the row length
      return quantizeQ8_0(values);
  }
}
