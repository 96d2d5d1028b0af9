// Random checkpoints of any config in HF layout: for tests (shapes, dtypes, MTP, V3 without indexer)
// and for benchmarks (a V3.2-shaped model big enough to be bandwidth-bound).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ToBf16, quantizeWeightFp8 } from '../formats/dtype.js';
import { encodeSafetensors, type StoredTensor } from '../formats/safetensors.js';
import type { ModelConfig } from './config.js';
import { allTensors, mainTensors, type TensorSpec } from './manifest.js';

export type WeightDType = 'F32' | 'BF16' | 'FP8';

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function bf16Bytes(a: Float32Array): Uint8Array {
  const u = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) u[i] = f32ToBf16(a[i]!);
  return new Uint8Array(u.buffer);
}

/** Values for one tensor: norms ≈ 1, projections ~ N(0, 1/fan_in), router bias small. */
function values(t: TensorSpec, r: () => number): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  if (t.role === 'norm') {
    const isBias = t.name.endsWith('.bias');
    for (let i = 0; i < n; i++) v[i] = isBias ? 0.05 * gaussian(r) : 1 + 0.1 * gaussian(r);
  } else if (t.role === 'gate_bias') {
    for (let i = 0; i < n; i++) v[i] = 0.02 * gaussian(r);
  } else {
    const fanIn = t.shape[1] ?? 1;
    const std = t.role === 'embed' ? 1 : 1 / Math.sqrt(fanIn);
    for (let i = 0; i < n; i++) v[i] = std * gaussian(r);
  }
  return v;
}

export interface SyntheticOptions {
  dtype?: WeightDType;
  seed?: number;
  /** include the MTP layers the config declares (default true) */
  mtp?: boolean;
}

/** All tensors of a random checkpoint, by HF name. FP8 applies to the tensors an FP8 release stores in FP8. */
export function syntheticTensors(cfg: ModelConfig, opts: SyntheticOptions = {}): Map<string, StoredTensor> {
  const dtype = opts.dtype ?? 'BF16';
  const r = rng(opts.seed ?? 1);
  const specs = (opts.mtp ?? true) ? allTensors(cfg) : mainTensors(cfg);
  const out = new Map<string, StoredTensor>();
  for (const t of specs) {
    const v = values(t, r);
    if (dtype === 'FP8' && t.fp8) {
      const [N, K] = t.shape as [number, number];
      const { codes, scales } = quantizeWeightFp8(v, N, K);
      out.set(t.name, { name: t.name, dtype: 'F8_E4M3', shape: t.shape, bytes: codes });
      const sn = t.name.replace(/\.weight$/, '.weight_scale_inv');
      out.set(sn, { name: sn, dtype: 'F32', shape: [Math.ceil(N / 128), Math.ceil(K / 128)], bytes: f32Bytes(scales) });
    } else if (t.role === 'gate_bias' || (t.role === 'norm' && dtype !== 'BF16') || dtype === 'F32') {
      out.set(t.name, { name: t.name, dtype: 'F32', shape: t.shape, bytes: f32Bytes(v) });
    } else {
      out.set(t.name, { name: t.name, dtype: 'BF16', shape: t.shape, bytes: bf16Bytes(v) });
    }
  }
  return out;
}

/** An in-memory TensorSource over a map. */
export class MapSource {
  constructor(readonly tensors: Map<string, StoredTensor>) {}
  has(name: string): boolean { return this.tensors.has(name); }
  read(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor "${name}"`);
    return t;
  }
  names(): string[] { return [...this.tensors.keys()]; }
}

/** Writes config.json + model.safetensors. `raw` is the HF config JSON to write. */
export function writeCheckpoint(dir: string, raw: Record<string, unknown>, tensors: Map<string, StoredTensor>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors([...tensors.values()]));
}
