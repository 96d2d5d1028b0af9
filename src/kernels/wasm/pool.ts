// Runs one kernel call split across threads: the main thread takes part 0, each worker one other part.
// Workers share the compiled module and the shared memory; a call is posted through a SharedArrayBuffer
// slot per worker (sequence number, kernel id, arguments) and woken with Atomics.notify. The workers
// are created from an inline source (eval), so the same code runs under tsx and from dist/.
import { Worker } from 'node:worker_threads';
import { instantiate, kernelModule, type KernelExports, type SimdBuild } from './module.js';

const SLOT = 16; // i32 per worker: [seq, done, fn, nargs, failed]
const MAXARGS = 16;
/** Iterations a waiting thread spins before it sleeps in Atomics.wait (keeps back-to-back calls cheap). */
const SPIN = 20000;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, ctrl, args, names, slot, spin } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('wasm kernel abort'); } } });
const fns = names.map((n) => inst.exports[n]);
const I = new Int32Array(ctrl), A = new Float64Array(args);
const b = slot * ${SLOT}, ab = slot * ${MAXARGS};
let seen = 0;
for (;;) {
  let s, n = 0;
  while ((s = Atomics.load(I, b)) === seen) { if (++n > spin) Atomics.wait(I, b, seen); }
  seen = s;
  const id = I[b + 2];
  if (id < 0) break;
  try {
    const a = A, o = ab;
    switch (I[b + 3]) {
      case 6: fns[id](a[o], a[o+1], a[o+2], a[o+3], a[o+4], a[o+5]); break;
      case 7: fns[id](a[o], a[o+1], a[o+2], a[o+3], a[o+4], a[o+5], a[o+6]); break;
      default: fns[id](...A.subarray(o, o + I[b + 3]));
    }
  } catch (e) { I[b + 4] = 1; console.error('wasm worker:', e); }
  Atomics.store(I, b + 1, seen);
  Atomics.notify(I, b + 1);
}
`;

export class ThreadPool {
  readonly exports: KernelExports;
  private readonly workers: Worker[] = [];
  private readonly online: Promise<void>[] = [];
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly ids = new Map<string, number>();
  private readonly seq: number[] = [];
  private closed = false;

  /** threads: total, the main thread included. */
  constructor(readonly memory: WebAssembly.Memory, readonly threads: number, readonly build: SimdBuild = 'baseline') {
    this.exports = instantiate(memory, build);
    const names = Object.keys(this.exports).filter((k) => typeof this.exports[k] === 'function');
    names.forEach((n, i) => this.ids.set(n, i));
    const nw = Math.max(0, threads - 1);
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * SLOT * Math.max(1, nw)));
    this.args = new Float64Array(new SharedArrayBuffer(8 * MAXARGS * Math.max(1, nw)));
    for (let s = 0; s < nw; s++) {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: kernelModule(build), memory, ctrl: this.ctrl.buffer, args: this.args.buffer, names, slot: s, spin: SPIN },
      });
      const up = new Promise<void>((res, rej) => { w.once('online', () => res()); w.once('error', rej); });
      up.catch(() => {}); // reported by ready() when someone asks
      this.online.push(up);
      w.unref(); // an idle pool never keeps the process alive
      this.workers.push(w);
      this.seq.push(0);
    }
  }

  /** Resolves when every worker thread is up (calls made earlier simply wait for them). */
  async ready(): Promise<void> {
    // an unref'd worker would not keep the process alive while we wait for it
    for (const w of this.workers) w.ref();
    try { await Promise.all(this.online); } finally { for (const w of this.workers) w.unref(); }
  }

  /**
   * Calls `fn` once per entry of `parts` (argument lists): parts[0] on this thread, the others on
   * workers, and returns when all are done.
   */
  run(fn: string, parts: number[][]): void {
    if (this.closed) throw new Error('wasm backend: used after close()');
    const f = this.exports[fn];
    if (!f) throw new Error(`wasm backend: no kernel ${fn}`);
    if (parts.length > this.workers.length + 1) throw new Error(`wasm backend: ${parts.length} parts for ${this.threads} threads`);
    const id = this.ids.get(fn)!;
    const I = this.ctrl;
    for (let p = 1; p < parts.length; p++) {
      const s = p - 1;
      const a = parts[p]!;
      this.args.set(a, s * MAXARGS);
      I[s * SLOT + 2] = id;
      I[s * SLOT + 3] = a.length;
      I[s * SLOT + 4] = 0;
      this.seq[s] = (this.seq[s]! + 1) | 0;
      Atomics.store(I, s * SLOT, this.seq[s]!);
      Atomics.notify(I, s * SLOT);
    }
    if (parts.length) f(...parts[0]!);
    let failed = false;
    for (let p = 1; p < parts.length; p++) {
      const s = p - 1;
      const want = this.seq[s]!;
      let v: number;
      let n = 0;
      while ((v = Atomics.load(I, s * SLOT + 1)) !== want) { if (++n > SPIN) Atomics.wait(I, s * SLOT + 1, v); }
      if (I[s * SLOT + 4]) failed = true;
    }
    if (failed) throw new Error(`wasm backend: kernel ${fn} failed in a worker thread`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (let s = 0; s < this.workers.length; s++) {
      this.ctrl[s * SLOT + 2] = -1;
      this.seq[s] = (this.seq[s]! + 1) | 0;
      Atomics.store(this.ctrl, s * SLOT, this.seq[s]!);
      Atomics.notify(this.ctrl, s * SLOT);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
