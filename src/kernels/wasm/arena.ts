// First-fit allocator over the shared wasm memory: weights live here for the backend's lifetime,
// scratch buffers are re-used between calls. The memory grows on demand up to a fixed budget (a
// wasm32 memory holds at most 4 GiB); past it allocation fails with a clear error instead of a trap.
const PAGE = 65536;
const ALIGN = 64;
/** The first 64 KiB belong to the module (its constant data segment). */
const BASE = 65536;

export class Arena {
  private top = BASE;
  private free: { off: number; size: number }[] = [];

  constructor(readonly memory: WebAssembly.Memory, readonly maxBytes: number) {}

  get used(): number {
    return this.top - BASE - this.free.reduce((s, b) => s + b.size, 0);
  }

  alloc(bytes: number, what = 'buffer'): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size < size) continue;
      const off = b.off;
      if (b.size === size) this.free.splice(i, 1);
      else { b.off += size; b.size -= size; }
      return off;
    }
    const off = this.top;
    const end = off + size;
    if (end > this.maxBytes) {
      throw new Error(`wasm backend: out of memory for ${what} (${(size / 2 ** 20).toFixed(1)} MiB): ` +
        `${(this.used / 2 ** 30).toFixed(2)} GiB in use of a ${(this.maxBytes / 2 ** 30).toFixed(2)} GiB budget ` +
        `(one wasm32 memory holds at most 4 GiB; use weights: 'q8' or a smaller model)`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return off;
  }

  release(off: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let i = 0;
    while (i < this.free.length && this.free[i]!.off < off) i++;
    this.free.splice(i, 0, { off, size });
    // coalesce with the neighbours, then give a trailing block back to the bump pointer
    if (i + 1 < this.free.length && off + size === this.free[i + 1]!.off) {
      this.free[i]!.size += this.free[i + 1]!.size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]!.off + this.free[i - 1]!.size === off) {
      this.free[i - 1]!.size += this.free[i]!.size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1]!;
    if (last.off + last.size === this.top) {
      this.top = last.off;
      this.free.pop();
    }
  }
}
