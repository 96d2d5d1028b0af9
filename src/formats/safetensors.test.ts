import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { referenceDir } from '../testing/fixtures.js';
import { Checkpoint } from './checkpoint.js';
import { E4M3_TABLE, f32ToE4m3, fp8RoundTripInPlace, ue8m0Scale } from './dtype.js';
import { encodeSafetensors, SafetensorsError, SafetensorsFile } from './safetensors.js';

function fileWithHeader(header: unknown, dataBytes: number): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const b = Buffer.alloc(8 + h.length + dataBytes);
  b.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(b, 8);
  return b;
}

const tmp = mkdtempSync(join(tmpdir(), 'dsv32-st-'));
function write(name: string, buf: Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, buf);
  return p;
}

describe('safetensors', () => {
  it('reads the reference fixtures with FP8 weights and their block scales', () => {
    const ck = Checkpoint.open(referenceDir('tiny-fp8'));
    const w = ck.read('model.layers.0.self_attn.kv_a_proj_with_mqa.weight');
    assert.equal(w.dtype, 'F8_E4M3');
    assert.deepEqual(w.shape, [144, 256]);
    assert.equal(w.bytes.length, 144 * 256); // stays one byte per weight in memory
    assert.deepEqual(ck.info('model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv')?.shape, [2, 2]);
    ck.close();
  });

  it('round-trips tensors through the writer', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const buf = encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [2, 3], bytes: new Uint8Array(data.buffer) }], { format: 'pt' });
    const f = new SafetensorsFile(write('ok.safetensors', buf));
    assert.deepEqual([...new Float32Array(f.read('a').bytes.buffer)], [...data]);
    assert.equal(f.metadata.format, 'pt');
    f.close();
  });

  const cases: [string, () => Buffer, RegExp][] = [
    ['a truncated file', () => readFileSync(join(referenceDir('tiny-bf16'), 'model.safetensors')).subarray(0, 100000), /tensor "[^"]+": data ends at byte \d+ but the file has only \d+ data bytes/],
    ['a header longer than the file', () => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n, 0); return b; }, /header length 1000 does not fit/],
    ['a header that is not JSON', () => { const h = Buffer.from('{nope'); const b = Buffer.alloc(8 + h.length); b.writeBigUInt64LE(BigInt(h.length), 0); h.copy(b, 8); return b; }, /not valid JSON/],
    ['an unknown dtype', () => fileWithHeader({ w: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }, 1), /tensor "w": unknown dtype "F4"/],
    ['a wrong byte length', () => fileWithHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /tensor "w": 4 bytes stored but F32\[2\] needs 8/],
    ['overlapping tensors', () => fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /"a" and "b" overlap/],
    ['bad offsets', () => fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8), /tensor "a": bad data_offsets/],
    ['a tiny file', () => Buffer.alloc(3), /too short/],
  ];
  for (const [what, make, re] of cases) {
    it(`rejects ${what} with a message naming the problem`, () => {
      const p = write(`bad-${what.replace(/\W+/g, '_')}.safetensors`, make());
      assert.throws(() => new SafetensorsFile(p), (e: unknown) => e instanceof SafetensorsError && re.test(e.message));
    });
  }

  it('rejects a checkpoint folder whose shard is corrupt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-ck-'));
    copyFileSync(join(referenceDir('tiny-bf16'), 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(referenceDir('tiny-bf16'), 'model.safetensors')).subarray(0, 5000));
    assert.throws(() => Checkpoint.open(dir), /truncated/);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-shard-'));
    const t = (name: string, v: number) => ({ name, dtype: 'F32' as const, shape: [1], bytes: new Uint8Array(new Float32Array([v]).buffer) });
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors([t('x', 1)]));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors([t('y', 2)]));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } }));
    const ck = Checkpoint.open(dir);
    assert.equal(new Float32Array(ck.read('y').bytes.buffer)[0], 2);
    ck.close();
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors', z: 'model-00003-of-00003.safetensors' } }));
    assert.throws(() => Checkpoint.open(dir), /shard "model-00003-of-00003.safetensors" named in the index is missing/);
  });
});

describe('fp8 e4m3', () => {
  it('decodes the format edges: max 448, min subnormal, NaN only at 0x7F/0xFF', () => {
    assert.equal(E4M3_TABLE[0x7e], 448);
    assert.equal(E4M3_TABLE[0x01], 2 ** -9);
    assert.equal(E4M3_TABLE[0x08], 2 ** -6);
    assert.ok(Number.isNaN(E4M3_TABLE[0x7f]!) && Number.isNaN(E4M3_TABLE[0xff]!));
    assert.equal(E4M3_TABLE[0xfe], -448);
  });

  it('encodes every representable value to itself and rounds halfway cases to even', () => {
    for (let c = 0; c < 256; c++) {
      if (c === 0x7f || c === 0xff || c === 0x80) continue;
      assert.equal(f32ToE4m3(E4M3_TABLE[c]!), c, `code ${c}`);
    }
    assert.equal(E4M3_TABLE[f32ToE4m3(1 + 1 / 16)], 1); // halfway between 1 and 1.125 → even mantissa
    assert.equal(E4M3_TABLE[f32ToE4m3(1 + 3 / 16)], 1.25);
    assert.equal(E4M3_TABLE[f32ToE4m3(3 * 2 ** -10)], 2 ** -8); // subnormal halfway → even
    assert.equal(f32ToE4m3(1e6), 0x7e);
  });

  it('uses power-of-two activation scales rounded up (ue8m0)', () => {
    assert.equal(ue8m0Scale(448), 1);
    assert.equal(ue8m0Scale(449), 2);
    assert.equal(ue8m0Scale(0), 2 ** Math.ceil(Math.log2(1e-4 / 448)));
    const x = new Float32Array(128).map((_, i) => Math.sin(i) * 3);
    const y = x.slice();
    fp8RoundTripInPlace(y);
    for (let i = 0; i < 128; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= Math.abs(x[i]!) / 16 + 1e-3);
  });
});
