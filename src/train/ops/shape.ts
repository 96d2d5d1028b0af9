// Layout ops: reshape (shared data), column concat/slice over the last dimension, row gather, and
// per-sequence row windows of a [B·S, D] activation.
import { makeResult, type Tensor } from '../autograd/tensor.js';

export function reshape(x: Tensor, shape: number[]): Tensor {
  return makeResult(x.data, shape, [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < g.length; i++) gx[i] += g[i]!;
  });
}

/** Concatenates along the last dimension: [R, a] ++ [R, b] → [R, a+b]. */
export function concatCols(parts: Tensor[]): Tensor {
  const R = parts[0]!.rows;
  for (const p of parts) if (p.rows !== R) throw new Error('concatCols: row counts differ');
  const W = parts.reduce((s, p) => s + p.cols, 0);
  const y = new Float32Array(R * W);
  let off = 0;
  for (const p of parts) {
    const c = p.cols;
    for (let r = 0; r < R; r++) y.set(p.data.subarray(r * c, r * c + c), r * W + off);
    off += c;
  }
  return makeResult(y, [R, W], parts, (g) => {
    let o = 0;
    for (const p of parts) {
      const c = p.cols;
      if (p.requiresGrad) {
        const gp = p.gradBuf();
        for (let r = 0; r < R; r++) for (let i = 0; i < c; i++) gp[r * c + i] += g[r * W + o + i]!;
      }
      o += c;
    }
  });
}

/** Columns [start, end) of every row. */
export function sliceCols(x: Tensor, start: number, end: number): Tensor {
  const R = x.rows;
  const C = x.cols;
  if (start < 0 || end > C || start >= end) throw new Error(`sliceCols: [${start}, ${end}) outside width ${C}`);
  const w = end - start;
  const y = new Float32Array(R * w);
  for (let r = 0; r < R; r++) y.set(x.data.subarray(r * C + start, r * C + end), r * w);
  return makeResult(y, [R, w], [x], (g) => {
    const gx = x.gradBuf();
    for (let r = 0; r < R; r++) for (let i = 0; i < w; i++) gx[r * C + start + i] += g[r * w + i]!;
  });
}

/** Rows `rows[i]` of x, in that order (repeats allowed); backward scatter-adds. */
export function gatherRows(x: Tensor, rows: Int32Array): Tensor {
  const C = x.cols;
  const n = rows.length;
  const y = new Float32Array(n * C);
  for (let i = 0; i < n; i++) y.set(x.data.subarray(rows[i]! * C, rows[i]! * C + C), i * C);
  return makeResult(y, [n, C], [x], (g) => {
    const gx = x.gradBuf();
    for (let i = 0; i < n; i++) {
      const o = rows[i]! * C;
      for (let c = 0; c < C; c++) gx[o + c] += g[i * C + c]!;
    }
  });
}

/** For x = [B·S, D] (B sequences of S rows), positions [start, start+len) of every sequence → [B·len, D]. */
export function sliceSeq(x: Tensor, B: number, S: number, start: number, len: number): Tensor {
  if (x.rows !== B * S) throw new Error(`sliceSeq: ${x.rows} rows is not ${B}×${S}`);
  if (start < 0 || start + len > S) throw new Error(`sliceSeq: [${start}, ${start + len}) outside ${S}`);
  const rows = new Int32Array(B * len);
  for (let b = 0; b < B; b++) for (let i = 0; i < len; i++) rows[b * len + i] = b * S + start + i;
  return gatherRows(x, rows);
}
