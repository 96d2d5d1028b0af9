// Stop strings over streamed text: text that could still be the start of a stop string is held back
// until it is decided, so a stop spanning several tokens is caught and trimmed from the output.
export class StopMatcher {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** Feeds new text; returns what can be emitted now and whether a stop string was hit. */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.done) return { emit: '', stopped: true };
    const buf = this.held + text;
    if (!this.stops.length) {
      this.held = '';
      return { emit: buf, stopped: false };
    }
    let first = -1;
    for (const s of this.stops) {
      if (!s) continue;
      const i = buf.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    if (first >= 0) {
      this.done = true;
      this.held = '';
      return { emit: buf.slice(0, first), stopped: true };
    }
    // hold back the longest suffix that is a proper prefix of some stop string
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, buf.length); k > keep; k--) {
        if (buf.endsWith(s.slice(0, k))) { keep = k; break; }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of generation: whatever was held back is real output. */
  flush(): string {
    const out = this.done ? '' : this.held;
    this.held = '';
    return out;
  }
}
