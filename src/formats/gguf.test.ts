import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { f16ToF32 } from './dtype.js';
import {
  encodeTensor, f32ToF16, GGML_TYPES, ggmlTensorBytes, gguf, GGUF_MAGIC, parseGgufHeader, quantizeQ8_0, readGgufHeader, writeGguf,
} from './gguf.js';

const tmp = mkdtempSync(join(tmpdir(), 'dsv32-gguf-'));

/** Q8_0 bytes back to fp32 (d as f16, then int8 × d). */
function dequantQ8_0(b: Uint8Array): Float32Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array((b.length / 34) * 32);
  for (let blk = 0; blk < b.length / 34; blk++) {
    const d = f16ToF32(dv.getUint16(blk * 34, true));
    for (let i = 0; i < 32; i++) out[blk * 32 + i] = dv.getInt8(blk * 34 + 2 + i) * d;
  }
  return out;
}

describe('gguf writer', () => {
  const a = Float32Array.from({ length: 3 * 5 }, (_, i) => i * 0.5 - 3); // 60 bytes: needs padding after it
  // q: 128 values = 4 blocks = 136 bytes; h, b: 14 bytes each
  const q = Float32Array.from({ length: 64 * 2 }, (_, i) => Math.sin(i));
  const h = Float32Array.from({ length: 7 }, (_, i) => 1 / (i + 1));
  const path = join(tmp, 'a.gguf');
  const res = writeGguf(path, [
    ['general.architecture', gguf.str('deepseek2')],
    ['deepseek2.block_count', gguf.u32(3)],
    ['deepseek2.rope.freq_base', gguf.f32(10000)],
    ['deepseek2.expert_weights_norm', gguf.bool(true)],
    ['x.i32', gguf.i32(-7)],
    ['tokenizer.ggml.tokens', gguf.arr('string', ['a', 'Ġb', '<｜end▁of▁sentence｜>'])],
    ['tokenizer.ggml.token_type', gguf.arr('i32', [1, 1, 3])],
  ], [
    { name: 'a.weight', ne: [5, 3], type: 'F32', data: () => encodeTensor(a, 'F32', 5) },
    { name: 'q.weight', ne: [64, 2], type: 'Q8_0', data: () => encodeTensor(q, 'Q8_0', 64) },
    { name: 'h.weight', ne: [7], type: 'F16', data: () => encodeTensor(h, 'F16', 7) },
    { name: 'b.weight', ne: [7], type: 'BF16', data: () => encodeTensor(h, 'BF16', 7) },
  ]);
  const file = readFileSync(path);

  it('starts with the magic, version 3 and the counts, at fixed byte positions', () => {
    assert.equal(file.readUInt32LE(0), GGUF_MAGIC);
    assert.equal(file.subarray(0, 4).toString('latin1'), 'GGUF');
    assert.equal(file.readUInt32LE(4), 3);
    assert.equal(file.readBigUInt64LE(8), 4n); // tensors
    assert.equal(file.readBigUInt64LE(16), 7n); // key/values
    // first key: u64 length, bytes, then the value type (8 = string)
    assert.equal(file.readBigUInt64LE(24), BigInt('general.architecture'.length));
    assert.equal(file.subarray(32, 32 + 20).toString(), 'general.architecture');
    assert.equal(file.readUInt32LE(52), 8);
  });

  it('reads back metadata with types and values', () => {
    const hd = parseGgufHeader(file);
    assert.equal(hd.version, 3);
    assert.deepEqual(hd.metadata.get('general.architecture'), { type: 'string', value: 'deepseek2' });
    assert.deepEqual(hd.metadata.get('deepseek2.block_count'), { type: 'u32', value: 3 });
    assert.deepEqual(hd.metadata.get('deepseek2.rope.freq_base'), { type: 'f32', value: 10000 });
    assert.deepEqual(hd.metadata.get('deepseek2.expert_weights_norm'), { type: 'bool', value: true });
    assert.deepEqual(hd.metadata.get('x.i32'), { type: 'i32', value: -7 });
    assert.deepEqual(hd.metadata.get('tokenizer.ggml.tokens'), { type: 'array', itemType: 'string', value: ['a', 'Ġb', '<｜end▁of▁sentence｜>'] });
    assert.deepEqual(hd.metadata.get('tokenizer.ggml.token_type'), { type: 'array', itemType: 'i32', value: [1, 1, 3] });
    assert.deepEqual([...hd.metadata.keys()][0], 'general.architecture');
  });

  it('lays out the tensor table: names, dims fastest first, types, aligned non-overlapping offsets', () => {
    const hd = readGgufHeader(path);
    assert.deepEqual(hd.tensors.map((t) => [t.name, t.ne, t.type]), [
      ['a.weight', [5, 3], 'F32'], ['q.weight', [64, 2], 'Q8_0'], ['h.weight', [7], 'F16'], ['b.weight', [7], 'BF16'],
    ]);
    assert.equal(hd.alignment, 32);
    assert.equal(hd.dataOffset % 32, 0);
    assert.equal(hd.dataOffset, res.dataOffset);
    let end = 0;
    for (const t of hd.tensors) {
      assert.equal(t.offset % 32, 0, `${t.name} offset ${t.offset}`);
      assert.ok(t.offset >= end, `${t.name} overlaps the previous tensor`);
      end = t.offset + ggmlTensorBytes(t.type as keyof typeof GGML_TYPES, t.ne);
    }
    assert.deepEqual(hd.tensors.map((t) => t.offset), [0, 64, 224, 256]);
    assert.equal(file.length, hd.dataOffset + 288); // the last tensor padded to the alignment too
    assert.equal(res.bytes, file.length);
    // the padding between header and data is zeros
    assert.ok(file.subarray(hd.dataOffset - 1, hd.dataOffset).every((b) => b === 0));
  });

  it('stores the tensor bytes where the table says', () => {
    const hd = readGgufHeader(path);
    const at = (name: string, n: number) => {
      const t = hd.tensors.find((x) => x.name === name)!;
      return new Uint8Array(file.buffer, file.byteOffset + hd.dataOffset + t.offset, n);
    };
    assert.deepEqual(new Float32Array(at('a.weight', 60).slice().buffer), a);
    const qd = dequantQ8_0(at('q.weight', 136));
    for (let i = 0; i < q.length; i++) assert.ok(Math.abs(qd[i]! - q[i]!) <= 0.5 / 127 + 1e-3, `q[${i}]`);
    const hh = new Uint16Array(at('h.weight', 14).slice().buffer);
    for (let i = 0; i < 7; i++) assert.equal(hh[i], f32ToF16(h[i]!));
  });

  it('refuses duplicate names, bad dims, Q8_0 rows that are not whole blocks, and short data', () => {
    const p = join(tmp, 'bad.gguf');
    const t = (name: string, ne: number[], type: 'F32' | 'Q8_0' = 'F32', n = ne.reduce((x, y) => x * y, 1)) =>
      ({ name, ne, type, data: () => new Uint8Array(n * 4) });
    assert.throws(() => writeGguf(p, [], [t('x', [2]), t('x', [2])]), /given twice/);
    assert.throws(() => writeGguf(p, [['k', gguf.u32(1)], ['k', gguf.u32(2)]], []), /given twice/);
    assert.throws(() => writeGguf(p, [], [t('x', [0])]), /bad dims/);
    assert.throws(() => writeGguf(p, [], [t('x', [48, 2], 'Q8_0')]), /multiple of 32/);
    assert.throws(() => writeGguf(p, [], [t('x', [4], 'F32', 3)]), /produced 12 bytes/);
    assert.throws(() => writeGguf(p, [['k', gguf.u32(1.5)]], []), /integer/);
    assert.throws(() => parseGgufHeader(new Uint8Array(8)), /bad magic/);
  });
});

describe('ggml encodings', () => {
  it('f32ToF16 inverts f16ToF32 on every finite half (normals, subnormals, ±0, ±inf)', () => {
    for (let b = 0; b < 0x10000; b++) {
      const e = (b >> 10) & 0x1f;
      if (e === 31 && (b & 0x3ff)) continue; // NaN payloads
      assert.equal(f32ToF16(f16ToF32(b)), b, `bits 0x${b.toString(16)}`);
    }
  });

  it('f32ToF16 rounds to nearest even, overflows to inf and underflows to zero', () => {
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even (1.0)
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (upwards)
    assert.equal(f32ToF16(65520), 0x7c00);
    assert.equal(f32ToF16(-1e6), 0xfc00);
    assert.equal(f32ToF16(2 ** -26), 0);
    assert.equal(f32ToF16(3 * 2 ** -26), 1); // above half of the smallest subnormal
    assert.equal(f32ToF16(NaN) & 0x7e00, 0x7e00);
  });

  it('quantizeQ8_0 is llama.cpp\'s reference: d = amax/127, halves rounded away from zero', () => {
    const x = new Float32Array(32);
    x[0] = 127; x[1] = -127; x[2] = 2.5; x[3] = -2.5; x[4] = 0.49;
    const b = quantizeQ8_0(x);
    assert.equal(b.length, 34);
    const dv = new DataView(b.buffer);
    assert.equal(f16ToF32(dv.getUint16(0, true)), 1);
    assert.deepEqual([...new Int8Array(b.buffer, 2, 5)], [127, -127, 3, -3, 0]);
    assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0)); // all-zero block: d = 0
    assert.throws(() => quantizeQ8_0(new Float32Array(31)), /multiple of 32/);
  });

  it('encodes BF16 and F32 rows', () => {
    const v = Float32Array.of(1, -2, 0.1);
    assert.deepEqual([...new Uint16Array(encodeTensor(v, 'BF16', 3).slice().buffer)], [0x3f80, 0xc000, 0x3dcd]);
    assert.deepEqual(encodeTensor(v, 'F32', 3), new Uint8Array(v.buffer));
    assert.throws(() => encodeTensor(v, 'F32', 2), /whole rows/);
  });
});
