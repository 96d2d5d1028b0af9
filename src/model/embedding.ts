// Token embedding: a plain row gather from the stored table, decoded to fp32 on the fly.
import { decodeInto } from '../formats/dtype.js';
import type { StoredTensor } from '../formats/safetensors.js';

export class Embedding {
  constructor(readonly table: StoredTensor) {}

  get vocabSize(): number { return this.table.shape[0]!; }
  get dim(): number { return this.table.shape[1]!; }

  lookup(tokens: ArrayLike<number>, into?: Float32Array): Float32Array {
    const D = this.dim;
    const out = into ?? new Float32Array(tokens.length * D);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new RangeError(`token id ${t} at index ${i} is outside the vocabulary [0, ${this.vocabSize})`);
      decodeInto(this.table.dtype, this.table.bytes, t * D, D, out, i * D);
    }
    return out;
  }
}
