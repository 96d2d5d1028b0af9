// Token data with a learnable pattern for smoke tests and benchmarks: each sequence starts at a random
// token and follows a fixed random successor map, so next-token (and next-next, for MTP) is learnable.
import { Rng } from './random.js';

export class PatternData {
  readonly next: Int32Array;
  private rng: Rng;

  constructor(readonly vocab: number, seed = 1) {
    this.rng = new Rng(seed);
    const perm = Array.from({ length: vocab }, (_, i) => i);
    for (let i = vocab - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    this.next = Int32Array.from(perm);
  }

  batch(B: number, S: number): Int32Array {
    const t = new Int32Array(B * S);
    for (let b = 0; b < B; b++) {
      let x = this.rng.int(this.vocab);
      for (let s = 0; s < S; s++) {
        t[b * S + s] = x;
        x = this.next[x]!;
      }
    }
    return t;
  }
}
