// Reads named HF tensors from a checkpoint and hands them to the backend, checking shapes as it goes.
// Tracks which tensors were used so the loader can report the ones it did not understand.
import { toFloat32 } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';
import type { Backend, Linear, LinearOptions } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';

export class WeightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

/** Anything tensors can be read from: a Checkpoint, or an in-memory map (training, tests). */
export interface TensorSource {
  has(name: string): boolean;
  read(name: string): StoredTensor;
}

export class WeightLoader {
  readonly used = new Set<string>();

  constructor(readonly src: TensorSource, readonly backend: Backend, readonly cfg: ModelConfig,
    private readonly onTensor?: (done: number) => void) {}

  raw(name: string, shape: number[]): StoredTensor {
    if (!this.src.has(name)) throw new WeightError(`checkpoint is missing tensor "${name}" (expected shape ${JSON.stringify(shape)})`);
    const t = this.src.read(name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightError(`tensor "${name}" has shape ${JSON.stringify(t.shape)}, the config implies ${JSON.stringify(shape)}`);
    }
    this.used.add(name);
    this.onTensor?.(this.used.size);
    return t;
  }

  /** A [out,in] projection; FP8 weights bring their weight_scale_inv and quantise inputs when the config says so. */
  linear(prefix: string, out: number, inDim: number, opts: LinearOptions = {}): Linear {
    const name = `${prefix}.weight`;
    const w = this.raw(name, [out, inDim]);
    let scale: StoredTensor | undefined;
    if (w.dtype === 'F8_E4M3') {
      const sname = `${prefix}.weight_scale_inv`;
      scale = this.raw(sname, [Math.ceil(out / 128), Math.ceil(inDim / 128)]);
    }
    const actQuant = w.dtype === 'F8_E4M3' && (this.cfg.quant?.activationQuant ?? true);
    return this.backend.linear(name, w, scale, actQuant, opts);
  }

  /**
   * Several [out_i,in] projections of the same input stacked into one [Σout_i,in] linear (one matmul call,
   * one weight stream, one quantisation of the input instead of several); output row j holds the parts'
   * outputs side by side. Null when they cannot be stacked exactly (different dtypes, or FP8 parts whose
   * 128-row scale blocks would straddle the seam): then the caller loads them one by one.
   */
  linearStacked(prefixes: string[], outs: number[], inDim: number, opts: LinearOptions = {}): Linear | null {
    const ws = prefixes.map((p, i) => this.raw(`${p}.weight`, [outs[i]!, inDim]));
    const dtype = ws[0]!.dtype;
    if (ws.some((w) => w.dtype !== dtype)) return null;
    if (dtype === 'F8_E4M3' && outs.slice(0, -1).some((o) => o % 128 !== 0)) return null;
    const rows = outs.reduce((a, b) => a + b, 0);
    const name = `${prefixes.join('+')}.weight`;
    const w: StoredTensor = { name, dtype, shape: [rows, inDim], bytes: concatBytes(ws.map((t) => t.bytes)) };
    let scale: StoredTensor | undefined;
    if (dtype === 'F8_E4M3') {
      const kb = Math.ceil(inDim / 128);
      const ss = prefixes.map((p, i) => this.raw(`${p}.weight_scale_inv`, [Math.ceil(outs[i]! / 128), kb]));
      if (ss.some((t) => t.dtype !== ss[0]!.dtype)) return null;
      scale = { name: `${prefixes.join('+')}.weight_scale_inv`, dtype: ss[0]!.dtype, shape: [Math.ceil(rows / 128), kb], bytes: concatBytes(ss.map((t) => t.bytes)) };
    }
    const actQuant = dtype === 'F8_E4M3' && (this.cfg.quant?.activationQuant ?? true);
    return this.backend.linear(name, w, scale, actQuant, opts);
  }

  /** A weight used in fp32 with fp32 inputs (router gate, indexer weights_proj, lm_head): never act-quantised. */
  linearF32(prefix: string, out: number, inDim: number, opts: LinearOptions = {}): Linear {
    const name = `${prefix}.weight`;
    const w = this.raw(name, [out, inDim]);
    if (w.dtype === 'F8_E4M3') throw new WeightError(`tensor "${name}" is FP8 but is used in fp32 by the model`);
    return this.backend.linear(name, w, undefined, false, opts);
  }

  vector(name: string, n: number): Float32Array {
    const t = this.raw(name, [n]);
    if (t.dtype === 'F8_E4M3') throw new WeightError(`tensor "${name}" is FP8; expected a float vector`);
    return toFloat32(t);
  }

  has(name: string): boolean {
    return this.src.has(name);
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
