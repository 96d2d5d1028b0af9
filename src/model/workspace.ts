// Reusable scratch buffers for the forward pass, so decoding allocates no new arrays per token.
// Each key names one intermediate; a buffer grows (geometrically) when a larger batch needs it, and the
// view handed out is valid until the same key is asked for again.
export class Workspace {
  private readonly f = new Map<string, Float32Array>();
  private readonly i = new Map<string, Int32Array>();
  private readonly b = new Map<string, Uint8Array>();
  private readonly views = new Map<string, Float32Array | Int32Array | Uint8Array>();

  private take<T extends Float32Array | Int32Array | Uint8Array>(map: Map<string, T>, key: string, n: number, make: (n: number) => T): T {
    let buf = map.get(key);
    if (!buf || buf.length < n) {
      buf = make(Math.max(n, Math.ceil((buf?.length ?? 0) * 1.5)));
      map.set(key, buf);
      this.views.delete(key);
    }
    // cache the view of the last length asked for: the steady decode state asks for the same one every token
    const v = this.views.get(key);
    if (v && v.length === n && v.buffer === buf.buffer) return v as T;
    const view = buf.subarray(0, n) as T;
    this.views.set(key, view);
    return view;
  }

  f32(key: string, n: number): Float32Array {
    return this.take(this.f, key, n, (k) => new Float32Array(k));
  }

  /** like f32, zero-filled */
  zeros(key: string, n: number): Float32Array {
    const a = this.f32(key, n);
    a.fill(0);
    return a;
  }

  i32(key: string, n: number): Int32Array {
    return this.take(this.i, `i:${key}`, n, (k) => new Int32Array(k)) as Int32Array;
  }

  u8(key: string, n: number): Uint8Array {
    return this.take(this.b, `u:${key}`, n, (k) => new Uint8Array(k)) as Uint8Array;
  }
}
