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
