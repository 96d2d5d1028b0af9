// Learning-rate schedule: linear warm-up from 0 to `peak` over `warmup` steps, then cosine decay to
// `min` at `total` steps (held at `min` afterwards). `step` counts from 0.
export interface LrSchedule {
  peak: number;
  min: number;
  warmup: number;
  total: number;
}

export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmup) return (s.peak * (step + 1)) / s.warmup;
  if (step >= s.total) return s.min;
  const progress = (step - s.warmup) / Math.max(1, s.total - s.warmup);
  return s.min + 0.5 * (s.peak - s.min) * (1 + Math.cos(Math.PI * progress));
}
