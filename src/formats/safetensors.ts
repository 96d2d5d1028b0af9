// Safetensors reader: validates the header up front, then reads each tensor's bytes on demand with
// positional reads. Tensors stay in their stored dtype (an FP8 checkpoint is never widened at load).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DTYPE_BYTES, type DType, isDType } from './dtype.js';

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
  file: string;
}

/** A tensor as stored: raw little-endian bytes, never converted. */
export interface StoredTensor {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
}

const MAX_HEADER = 100 * 1024 * 1024;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function parseSafetensorsHeader(header: Buffer | Uint8Array, fileSize: number, file: string): { tensors: TensorInfo[]; metadata: Record<string, string> } {
  if (fileSize < 8) throw new SafetensorsError(`${file}: file is ${fileSize} bytes, too short for a safetensors header`);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > fileSize) {
    throw new SafetensorsError(`${file}: header length ${n} does not fit in a file of ${fileSize} bytes (truncated or not safetensors)`);
  }
  if (header.byteLength < 8 + n) throw new SafetensorsError(`${file}: header truncated`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(header.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsError(`${file}: header is not a JSON object`);
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) throw new SafetensorsError(`${file}: tensor "${name}": entry is not an object`);
    if (typeof t.dtype !== 'string' || !isDType(t.dtype)) throw new SafetensorsError(`${file}: tensor "${name}": unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${file}: tensor "${name}": shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new SafetensorsError(`${file}: tensor "${name}": bad data_offsets ${JSON.stringify(off)}`);
    }
    const shape = t.shape as number[];
    const want = numel(shape) * DTYPE_BYTES[t.dtype];
    const [b, e] = off as [number, number];
    if (e - b !== want) {
      throw new SafetensorsError(`${file}: tensor "${name}": ${e - b} bytes stored but ${t.dtype}${JSON.stringify(shape)} needs ${want}`);
    }
    if (e > dataLen) {
      throw new SafetensorsError(`${file}: tensor "${name}": data ends at byte ${e} but the file has only ${dataLen} data bytes (truncated?)`);
    }
    tensors.push({ name, dtype: t.dtype, shape, begin: dataStart + b, end: dataStart + e, file });
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end) {
      throw new SafetensorsError(`${file}: tensors "${sorted[i - 1]!.name}" and "${sorted[i]!.name}" overlap`);
    }
  }
  return { tensors, metadata };
}

/** One .safetensors file, header parsed and validated at open. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string>;
  private fd: number | null;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    try {
      const size = fstatSync(this.fd).size;
      const head = Buffer.alloc(Math.min(size, 8));
      readSync(this.fd, head, 0, head.length, 0);
      if (size < 8) throw new SafetensorsError(`${path}: file is ${size} bytes, too short for a safetensors header`);
      const n = Number(head.readBigUInt64LE(0));
      if (n > MAX_HEADER || 8 + n > size) {
        throw new SafetensorsError(`${path}: header length ${n} does not fit in a file of ${size} bytes (truncated or not safetensors)`);
      }
      const header = Buffer.alloc(8 + n);
      readSync(this.fd, header, 0, 8 + n, 0);
      const parsed = parseSafetensorsHeader(header, size, path);
      for (const t of parsed.tensors) this.tensors.set(t.name, t);
      this.metadata = parsed.metadata;
    } catch (e) {
      closeSync(this.fd);
      this.fd = null;
      throw e;
    }
  }

  read(name: string): StoredTensor {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.path}: no tensor "${name}"`);
    if (this.fd === null) throw new SafetensorsError(`${this.path}: file is closed`);
    // A fresh ArrayBuffer keeps typed views aligned whatever the tensor's offset in the file.
    const bytes = new Uint8Array(info.end - info.begin);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, info.begin + done);
      if (n === 0) throw new SafetensorsError(`${this.path}: tensor "${name}": file ended while reading (truncated)`);
      done += n;
    }
    return { name, dtype: info.dtype, shape: info.shape, bytes };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Serialise tensors to safetensors bytes (keys sorted, 8-byte aligned data as the Python writer does). */
export function encodeSafetensors(tensors: StoredTensor[], metadata?: Record<string, string>): Buffer {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of sorted) {
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.bytes.length !== want) throw new SafetensorsError(`tensor "${t.name}": ${t.bytes.length} bytes for ${t.dtype}${JSON.stringify(t.shape)} (needs ${want})`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hb = Buffer.from(json);
  const out = Buffer.alloc(8 + hb.length + off);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let p = 8 + hb.length;
  for (const t of sorted) {
    out.set(t.bytes, p);
    p += t.bytes.length;
  }
  return out;
}
