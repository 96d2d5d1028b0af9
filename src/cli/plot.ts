// Line plots as standalone SVG (no scripts, no external fonts or CDN): one or more panels in a grid,
// each with named (x, y) series, axes with ticks and labels, a legend, linear or log y, and optional
// vertical markers. Used for cost curves (plan), loss curves and benchmark plots.

export type Point = readonly [x: number, y: number];

export interface Series {
  name: string;
  points: readonly Point[];
  /** CSS colour; defaults to the palette by the series' index in its panel (same order → same colour in every panel) */
  color?: string;
  /** SVG stroke-dasharray, e.g. "6 4" */
  dash?: string;
}

export interface Marker {
  x: number;
  label?: string;
}

export interface Panel {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  yScale?: 'linear' | 'log';
  series: Series[];
  /** axis ranges; default from the data (linear y starts at 0 when the data are non-negative) */
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  /** explicit tick positions; default "nice" 1-2-5 steps (linear) or powers of ten (log) */
  xTicks?: number[];
  yTicks?: number[];
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  /** dashed vertical lines, e.g. a top-k knee */
  markers?: Marker[];
  /** default 'auto': the corner whose box covers the fewest plotted points and marker labels */
  legend?: LegendPlace | 'auto' | 'none';
}

export type LegendPlace = 'top-left' | 'top-right' | 'bottom-right' | 'bottom-left';

export interface PlotOptions {
  title?: string;
  panels: Panel[];
  /** panels per row (default: all in one row) */
  columns?: number;
  panelWidth?: number;
  panelHeight?: number;
}

export class PlotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlotError';
  }
}

// Colour-blind-safe (Okabe–Ito) order.
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r2 = (v: number) => Math.round(v * 100) / 100;

/** Compact numbers for tick labels: 0.5, 12, 3.5K, 1.2M, 4G, 2e-5. */
export function formatCompact(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']];
  for (const [u, s] of units) if (a >= u) return `${trim(v / u)}${s}`;
  if (a < 1e-3) return v.toExponential(0);
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** Ticks at 1-2-5 × 10^k steps covering [lo, hi], about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = a; e <= b; e++) for (const m of mult) {
    const v = m * 10 ** e;
    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
  }
  return out;
}

interface Box { x: number; y: number; w: number; h: number }
type Frame = Box;

const colorOf = (s: Series, i: number) => s.color ?? PALETTE[i % PALETTE.length]!;

function validate(p: Panel, i: number): void {
  if (!p.series.length) throw new PlotError(`panel ${i + 1}: no series to plot`);
  for (const s of p.series) {
    if (!s.points.length) throw new PlotError(`panel ${i + 1}, series "${s.name}": no points`);
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new PlotError(`panel ${i + 1}, series "${s.name}": non-finite point (${x}, ${y})`);
      if (p.yScale === 'log' && y <= 0) throw new PlotError(`panel ${i + 1}, series "${s.name}": y = ${y} cannot be drawn on a log scale`);
    }
  }
}

function renderPanel(p: Panel, f: Frame, index: number): string {
  const pts = p.series.flatMap((s) => s.points);
  const xs = pts.map((q) => q[0]);
  const ys = pts.map((q) => q[1]);
  const log = p.yScale === 'log';
  let x0 = p.xMin ?? Math.min(...xs);
  let x1 = p.xMax ?? Math.max(...xs);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  let y0 = p.yMin ?? (log ? Math.min(...ys) : Math.min(0, ...ys));
  // automatic top: 15% headroom so the legend's band stays clear of the data
  let y1 = p.yMax ?? (() => {
    const top = Math.max(...ys);
    return log ? top * (top / y0) ** 0.15 : top + 0.15 * (top - y0);
  })();
  if (y1 === y0) { y0 = log ? y0 / 2 : y0 - 1; y1 = log ? y1 * 2 : y1 + 1; }
  if (log && (y0 <= 0 || y1 <= 0)) throw new PlotError('log-scale y range must be positive');
  // Widen an automatic range to whole ticks so the frame ends on a labelled value.
  if (!p.yTicks) {
    if (log) {
      if (p.yMin === undefined) y0 = 10 ** Math.floor(Math.log10(y0));
      if (p.yMax === undefined) y1 = 10 ** Math.ceil(Math.log10(y1));
    } else {
      const t = niceTicks(y0, y1);
      const step = t.length > 1 ? t[1]! - t[0]! : 1;
      if (p.yMin === undefined) y0 = Math.floor(y0 / step + 1e-9) * step;
      if (p.yMax === undefined) y1 = Math.ceil(y1 / step - 1e-9) * step;
    }
  }
  const ty = (y: number) => f.y + f.h - (log ? (Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0)) : (y - y0) / (y1 - y0)) * f.h;
  const tx = (x: number) => f.x + ((x - x0) / (x1 - x0)) * f.w;
  const xFmt = p.xFormat ?? formatCompact;
  const yFmt = p.yFormat ?? formatCompact;
  const xt = (p.xTicks ?? niceTicks(x0, x1)).filter((v) => v >= x0 - 1e-9 * Math.abs(x1 - x0) && v <= x1 + 1e-9 * Math.abs(x1 - x0));
  const yt = (p.yTicks ?? (log ? logTicks(y0, y1) : niceTicks(y0, y1))).filter((v) => v >= y0 * (1 - 1e-9) - 1e-12 && v <= y1 * (1 + 1e-9) + 1e-12);

  const out: string[] = [];
  if (p.title) out.push(`<text x="${r2(f.x + f.w / 2)}" y="${r2(f.y - 14)}" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
  // grid and ticks
  for (const v of yt) {
    const y = r2(ty(v));
    out.push(`<line x1="${f.x}" y1="${y}" x2="${f.x + f.w}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<line x1="${f.x - 5}" y1="${y}" x2="${f.x}" y2="${y}" stroke="#333"/>`);
    out.push(`<text x="${f.x - 8}" y="${y + 4}" text-anchor="end" font-size="12">${esc(yFmt(v))}</text>`);
  }
  for (const v of xt) {
    const x = r2(tx(v));
    out.push(`<line x1="${x}" y1="${f.y}" x2="${x}" y2="${f.y + f.h}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${x}" y1="${f.y + f.h}" x2="${x}" y2="${f.y + f.h + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${f.y + f.h + 19}" text-anchor="middle" font-size="12">${esc(xFmt(v))}</text>`);
  }
  const avoid: Box[] = [];
  for (const m of p.markers ?? []) {
    if (m.x < x0 || m.x > x1) continue;
    const x = r2(tx(m.x));
    out.push(`<line x1="${x}" y1="${f.y}" x2="${x}" y2="${f.y + f.h}" stroke="#888" stroke-dasharray="3 3"/>`);
    if (!m.label) continue;
    const box: Box = { x: x + 4, y: f.y + 4, w: m.label.length * 6.5, h: 14 };
    avoid.push(box);
    out.push(`<text x="${r2(box.x)}" y="${f.y + 15}" font-size="11" fill="#555">${esc(m.label)}</text>`);
  }
  out.push(`<rect x="${f.x}" y="${f.y}" width="${f.w}" height="${f.h}" fill="none" stroke="#333"/>`);
  if (p.xLabel) out.push(`<text x="${r2(f.x + f.w / 2)}" y="${f.y + f.h + 40}" text-anchor="middle" font-size="13">${esc(p.xLabel)}</text>`);
  if (p.yLabel) {
    const cx = f.x - 62;
    const cy = r2(f.y + f.h / 2);
    out.push(`<text x="${cx}" y="${cy}" text-anchor="middle" font-size="13" transform="rotate(-90 ${cx} ${cy})">${esc(p.yLabel)}</text>`);
  }
  // series, clipped to the frame
  const clip = `clip${index}`;
  out.push(`<clipPath id="${clip}"><rect x="${f.x}" y="${f.y}" width="${f.w}" height="${f.h}"/></clipPath>`);
  p.series.forEach((s, i) => {
    const color = colorOf(s, i);
    const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${r2(tx(x))},${r2(ty(y))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2.2"${s.dash ? ` stroke-dasharray="${esc(s.dash)}"` : ''} clip-path="url(#${clip})"><title>${esc(s.name)}</title></path>`);
  });
  // legend
  if (p.legend !== 'none') {
    const lw = Math.max(...p.series.map((s) => s.name.length)) * 7 + 44;
    const lh = p.series.length * 18 + 8;
    const boxAt = (where: LegendPlace): Box => ({
      x: where.endsWith('left') ? f.x + 10 : f.x + f.w - lw - 10,
      y: where.startsWith('bottom') ? f.y + f.h - lh - 10 : f.y + 10,
      w: lw,
      h: lh,
    });
    let where: LegendPlace = 'top-left';
    if (p.legend && p.legend !== 'auto') where = p.legend;
    else {
      // the drawn lines sampled every few pixels, so a long straight segment through a corner counts
      const screen: [number, number][] = [];
      for (const s of p.series) {
        s.points.forEach(([x, y], j) => {
          const [ax, ay] = [tx(x), ty(y)];
          if (j === 0) { screen.push([ax, ay]); return; }
          const [px, py] = [tx(s.points[j - 1]![0]), ty(s.points[j - 1]![1])];
          const n = Math.min(200, Math.ceil(Math.hypot(ax - px, ay - py) / 4));
          for (let k = 1; k <= n; k++) screen.push([px + ((ax - px) * k) / n, py + ((ay - py) * k) / n]);
        });
      }
      const cost = (b: Box) => screen.filter(([x, y]) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h).length
        + 1e6 * avoid.filter((a) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h).length;
      let best = Infinity;
      for (const c of ['top-left', 'top-right', 'bottom-right', 'bottom-left'] as const) {
        const v = cost(boxAt(c));
        if (v < best) { best = v; where = c; }
      }
    }
    const { x: lx, y: ly } = boxAt(where);
    out.push(`<rect x="${r2(lx)}" y="${r2(ly)}" width="${lw}" height="${lh}" fill="#fff" fill-opacity="0.9" stroke="#bbb"/>`);
    p.series.forEach((s, i) => {
      const color = colorOf(s, i);
      const y = r2(ly + 13 + i * 18);
      out.push(`<line x1="${r2(lx + 8)}" y1="${y}" x2="${r2(lx + 32)}" y2="${y}" stroke="${color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${esc(s.dash)}"` : ''}/>`);
      out.push(`<text x="${r2(lx + 38)}" y="${r2(y + 4)}" font-size="12">${esc(s.name)}</text>`);
    });
  }
  return out.join('\n');
}

/** A complete SVG document with the panels laid out in a grid. */
export function renderSvg(o: PlotOptions): string {
  if (!o.panels.length) throw new PlotError('no panels to plot');
  o.panels.forEach(validate);
  const cols = Math.max(1, Math.min(o.columns ?? o.panels.length, o.panels.length));
  const rows = Math.ceil(o.panels.length / cols);
  const pw = o.panelWidth ?? 440;
  const ph = o.panelHeight ?? 320;
  // margins around each plotting frame: room for y labels on the left, x labels below, title above
  const m = { left: 84, right: 20, top: 40, bottom: 58 };
  const cellW = m.left + pw + m.right;
  const cellH = m.top + ph + m.bottom;
  const width = cols * cellW;
  const height = (o.title ? 30 : 0) + rows * cellH;
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  if (o.title) parts.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${esc(o.title)}</text>`);
  o.panels.forEach((p, i) => {
    const cx = (i % cols) * cellW;
    const cy = (o.title ? 30 : 0) + Math.floor(i / cols) * cellH;
    parts.push('<g>', renderPanel(p, { x: cx + m.left, y: cy + m.top, w: pw, h: ph }, i), '</g>');
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
