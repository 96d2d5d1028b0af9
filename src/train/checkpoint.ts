// Trained weights as a Hugging Face checkpoint folder the inference engine loads unchanged:
// model.safetensors (HF names, [out,in], F32 or BF16; the MTP layer's embed_tokens/shared_head.head
// duplicates written as the real checkpoints store them) and config.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from '../formats/checkpoint.js';
import { f32ToBf16, toFloat32 } from '../formats/dtype.js';
import { encodeSafetensors, type StoredTensor } from '../formats/safetensors.js';
import type { ParamStore } from './params.js';

export interface SaveOptions {
  /** BF16 halves the size; F32 (default) is lossless */
  dtype?: 'F32' | 'BF16';
  /** extra config.json fields (e.g. training metadata) */
  configExtra?: Record<string, unknown>;
}

function stored(name: string, shape: number[], data: Float32Array, dtype: 'F32' | 'BF16'): StoredTensor {
  // the router bias stays F32 as in the released checkpoints
  if (dtype === 'F32' || name.endsWith('e_score_correction_bias')) {
    return { name, dtype: 'F32', shape, bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  }
  const u = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) u[i] = f32ToBf16(data[i]!);
  return { name, dtype: 'BF16', shape, bytes: new Uint8Array(u.buffer) };
}

export function checkpointTensors(params: ParamStore, dtype: 'F32' | 'BF16' = 'F32'): StoredTensor[] {
  const cfg = params.cfg;
  const out: StoredTensor[] = [];
  for (const [name, t] of params.byName) out.push(stored(name, t.shape, t.data, dtype));
  if (cfg.numMtpLayers > 0) {
    const L = cfg.numLayers;
    const e = params.get('model.embed_tokens.weight');
    out.push(stored(`model.layers.${L}.embed_tokens.weight`, e.shape, e.data, dtype));
    const h = params.head();
    out.push(stored(`model.layers.${L}.shared_head.head.weight`, h.shape, h.data, dtype));
  }
  return out;
}

export function saveCheckpoint(dir: string, params: ParamStore, opts: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const dtype = opts.dtype ?? 'F32';
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(checkpointTensors(params, dtype), { format: 'pt' }));
  const raw = { ...params.cfg.raw, torch_dtype: dtype === 'F32' ? 'float32' : 'bfloat16', ...opts.configExtra };
  delete (raw as Record<string, unknown>).quantization_config; // weights are written unquantised
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
}

/** Loads every tensor the store has from a checkpoint folder (F32/BF16/F16; shapes must match). */
export function loadCheckpointInto(params: ParamStore, dir: string): void {
  const ck = Checkpoint.open(dir);
  try {
    for (const [name, t] of params.byName) {
      if (!ck.has(name)) throw new Error(`${dir}: checkpoint has no tensor "${name}"`);
      const st = ck.read(name);
      if (st.shape.length !== t.shape.length || st.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(`${dir}: tensor "${name}" has shape ${JSON.stringify(st.shape)}, expected ${JSON.stringify(t.shape)}`);
      }
      if (st.dtype === 'F8_E4M3') throw new Error(`${dir}: tensor "${name}" is FP8; training needs F32/BF16 weights`);
      t.data.set(toFloat32(st));
    }
  } finally {
    ck.close();
  }
}
