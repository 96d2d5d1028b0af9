// Read-bandwidth microbenchmark, the roofline's ceiling: SIMD128 loads summed over a 1 GiB shared wasm memory
// (filled first, so no page is the kernel's shared zero page), read as one sequential stream per thread (the
// tiled GEMVs) and as 4 row streams per thread (row-major GEMVs), the faster of the two counting, split over
// worker threads that start together. The module is 200 bytes of hand-assembled wasm, so the
// measurement depends on nothing in src/.
import { Worker } from 'node:worker_threads';

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const str = (s: string) => [...leb(s.length), ...Buffer.from(s)];

/** sum4(p, end, stride): Σ of i32 lanes of [p, end) and the three regions stride, 2·stride, 3·stride after it. */
function readSumModule(): Uint8Array<ArrayBuffer> {
  const V128_LOAD = (off: number) => [0xfd, 0x00, 0x04, off];
  const ADD = [0xfd, 0xae, 0x01]; // i32x4.add
  const body: number[] = [
    0x02, 0x03, 0x7f, 0x04, 0x7b, // locals: 3 × i32 (q1..q3), 4 × v128 (accumulators)
    0x20, 0, 0x20, 2, 0x6a, 0x21, 3,
    0x20, 3, 0x20, 2, 0x6a, 0x21, 4,
    0x20, 4, 0x20, 2, 0x6a, 0x21, 5,
    0x03, 0x40, // loop
  ];
  for (const [ptr, acc] of [[0, 6], [3, 7], [4, 8], [5, 9]] as const) {
    body.push(0x20, acc, 0x20, ptr, ...V128_LOAD(0), ...ADD, 0x20, ptr, ...V128_LOAD(16), ...ADD, 0x21, acc);
  }
  for (const ptr of [3, 4, 5]) body.push(0x20, ptr, 0x41, 32, 0x6a, 0x21, ptr);
  body.push(0x20, 0, 0x41, 32, 0x6a, 0x22, 0, 0x20, 1, 0x49, 0x0d, 0, 0x0b); // p += 32; br_if p < end
  body.push(0x20, 6, 0x20, 7, ...ADD, 0x20, 8, ...ADD, 0x20, 9, ...ADD, 0xfd, 0x1b, 0, 0x0b);
  // sum1(p, end): one stream, 128 bytes (eight loads into four accumulators) per iteration
  const body1: number[] = [0x01, 0x04, 0x7b, 0x03, 0x40];
  for (let j = 0; j < 4; j++) {
    body1.push(0x20, 2 + j, 0x20, 0, ...V128_LOAD(32 * j), ...ADD, 0x20, 0, ...V128_LOAD(32 * j + 16), ...ADD, 0x21, 2 + j);
  }
  body1.push(0x20, 0, 0x41, 0x80, 0x01, 0x6a, 0x22, 0, 0x20, 1, 0x49, 0x0d, 0, 0x0b); // p += 128; br_if p < end
  body1.push(0x20, 2, 0x20, 3, ...ADD, 0x20, 4, ...ADD, 0x20, 5, ...ADD, 0xfd, 0x1b, 0, 0x0b);
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]),
    ...section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x03, ...leb(1), ...leb(65536)]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...str('sum4'), 0x00, 0, ...str('sum1'), 0x00, 1]),
    ...section(10, [2, ...leb(body.length), ...body, ...leb(body1.length), ...body1]),
  ]);
}

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, ctrl, lo, hi, reps, streams } = workerData;
const { sum4, sum1 } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const I = new Int32Array(ctrl);
const stride = (hi - lo) / 4;
const read = streams === 4 ? () => sum4(lo, lo + stride, stride) : () => sum1(lo, hi);
read(); // warm up (and leave the baseline compiler)
parentPort.postMessage('ready');
const times = [];
for (let r = 0; r < reps; r++) {
  Atomics.wait(I, 0, r);
  const t0 = process.hrtime.bigint();
  read();
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  Atomics.add(I, 1, 1);
  Atomics.notify(I, 1);
}
parentPort.postMessage(times);
`;

export interface BandwidthResult {
  bytes: number;
  /** best GB/s (1e9 bytes) by thread count */
  gbPerS: Record<number, number>;
}

/** Best-of-`reps` read bandwidth over `bytes` (default 1 GiB) for each thread count. */
export async function measureReadBandwidth(threadCounts: number[] = [1, 2], bytes = 1 << 30, reps = 5): Promise<BandwidthResult> {
  const module = new WebAssembly.Module(readSumModule());
  const memory = new WebAssembly.Memory({ initial: bytes / 65536, maximum: bytes / 65536, shared: true });
  new Uint8Array(memory.buffer).fill(1);
  const gbPerS: Record<number, number> = {};
  for (const th of threadCounts) {
    // one sequential stream per thread (how the tiled GEMVs read) and four (row-major GEMVs): the faster counts
    for (const streams of [1, 4]) {
    const part = Math.floor(bytes / th / 128) * 128;
    const ctrl = new SharedArrayBuffer(8);
    const I = new Int32Array(ctrl);
    const workers = Array.from({ length: th }, (_, t) => new Worker(WORKER, {
      eval: true, workerData: { module, memory, ctrl, lo: t * part, hi: (t + 1) * part, reps, streams },
    }));
    const ready = workers.map((w) => new Promise<void>((res) => w.once('message', () => res())));
    const done = workers.map((w) => new Promise<number[]>((res) => w.on('message', (m) => { if (Array.isArray(m)) res(m); })));
    await Promise.all(ready);
    const walls: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint();
      Atomics.store(I, 1, 0);
      Atomics.store(I, 0, r + 1);
      Atomics.notify(I, 0);
      while (Atomics.load(I, 1) < th) await new Promise((res) => setImmediate(res));
      walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const per = await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));
    // the slowest thread of each repetition sets its time; the wall clock bounds it from above
    const best = Math.min(...walls.map((w, r) => Math.min(w, Math.max(...per.map((p) => p[r]!)))));
    gbPerS[th] = Math.max(gbPerS[th] ?? 0, (part * th) / best / 1e9);
    }
  }
  return { bytes, gbPerS };
}
