// Rotary embedding as a differentiable op on a strided slice of every row: for each head h, the dims
// [h·stride + offset, +table.dim) are rotated at the row's position (row mod S within its sequence).
// interleaved: pairs (x[2j], x[2j+1]) — MLA. Half-split: pairs (x[j], x[j+dim/2]) — the indexer.
// Backward is the inverse rotation (rotation by −θ) of the incoming gradient.
import { makeResult, type Tensor } from '../autograd/tensor.js';
import type { RopeTable } from './yarn.js';

export interface RopeLayout {
  /** rows are B sequences of S positions; position of row r = r mod S */
  S: number;
  heads: number;
  /** distance between consecutive heads' slices within a row */
  stride: number;
  /** start of the rotated slice within a head */
  offset: number;
  interleaved: boolean;
}

function rotate(src: Float32Array, dst: Float32Array, W: number, R: number, tab: RopeTable, l: RopeLayout, sign: number): void {
  const half = tab.dim / 2;
  for (let r = 0; r < R; r++) {
    const pos = r % l.S;
    if (pos >= tab.positions) throw new Error(`rope: position ${pos} beyond the table (${tab.positions})`);
    const to = pos * half;
    for (let h = 0; h < l.heads; h++) {
      const base = r * W + h * l.stride + l.offset;
      for (let j = 0; j < half; j++) {
        const ia = l.interleaved ? base + 2 * j : base + j;
        const ib = l.interleaved ? ia + 1 : ia + half;
        const c = tab.cos[to + j]!;
        const s = sign * tab.sin[to + j]!;
        const a = src[ia]!;
        const b = src[ib]!;
        dst[ia] = a * c - b * s;
        dst[ib] = a * s + b * c;
      }
    }
  }
}

export function rope(x: Tensor, tab: RopeTable, layout: RopeLayout): Tensor {
  const W = x.cols;
  const R = x.rows;
  if ((layout.heads - 1) * layout.stride + layout.offset + tab.dim > W) throw new Error(`rope: layout exceeds row width ${W}`);
  const y = Float32Array.from(x.data);
  rotate(x.data, y, W, R, tab, layout, 1);
  return makeResult(y, x.shape.slice(), [x], (g) => {
    const gr = Float32Array.from(g);
    rotate(g, gr, W, R, tab, layout, -1);
    const gx = x.gradBuf();
    for (let i = 0; i < gr.length; i++) gx[i] += gr[i]!;
  });
}
