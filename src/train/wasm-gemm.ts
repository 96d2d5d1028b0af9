// The training GEMM on the WebAssembly SIMD kernels (src/kernels/wasm): the module's f32 `gemm` computes
// y[M,N] = x[M,K] · W[N,K]ᵀ with a packed 4×8 register block. Every training case maps to it by
// writing op(A) as [M,K] and op(B) as [N,K] into the shared wasm memory (a transposing copy where the
// stored layout differs: O(n²) copies against O(n³) work) and reading y back (added into C when
// accumulating). Large calls are split by columns of C over the worker pool.
import { availableParallelism } from 'node:os';
import { Arena } from '../kernels/wasm/arena.js';
import { resolveSimd } from '../kernels/wasm/module.js';
import { ThreadPool } from '../kernels/wasm/pool.js';
import type { GemmFn } from './autograd/gemm.js';

const KC = 256; // the kernel's K block (assembly/gemm.ts)
/** bytes of `pack` per thread: a KC×8 f32 weight panel plus as much decode scratch (the kernel's contract) */
const PACK_BYTES = 2 * KC * 8 * 4;
const FMT_F32_ROWS = 3; // row-major f32 operands (assembly/common.ts), not the tiled weight layout

export interface WasmGemmOptions {
  /** threads per call, this one included (default min(2, cores)) */
  threads?: number;
  /** calls with fewer multiply-adds than this run on one thread (waking a worker costs microseconds) */
  minParallelMacs?: number;
}

interface Slot { ptr: number; bytes: number }

export class WasmGemm {
  readonly threads: number;
  private readonly memory: WebAssembly.Memory;
  private readonly arena: Arena;
  private readonly pool: ThreadPool;
  private readonly minParallelMacs: number;
  private readonly slots: Record<'a' | 'b' | 'y' | 'pack', Slot> = {
    a: { ptr: 0, bytes: 0 }, b: { ptr: 0, bytes: 0 }, y: { ptr: 0, bytes: 0 }, pack: { ptr: 0, bytes: 0 },
  };
  private f32 = new Float32Array(0);

  private constructor(opts: WasmGemmOptions) {
    this.threads = Math.max(1, Math.floor(opts.threads ?? Math.min(2, availableParallelism())));
    this.minParallelMacs = opts.minParallelMacs ?? 1 << 21;
    const maxPages = 65536; // 4 GiB, the wasm32 limit; only what is used is committed
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: maxPages, shared: true });
    this.arena = new Arena(this.memory, maxPages * 65536);
    this.pool = new ThreadPool(this.memory, this.threads, resolveSimd());
  }

  /** Compiles the module (build/wasm/kernels.wasm must exist) and waits for the worker threads. */
  static async create(opts: WasmGemmOptions = {}): Promise<WasmGemm> {
    const g = new WasmGemm(opts);
    await g.pool.ready();
    return g;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** At least `bytes` of scratch for a slot (contents undefined); grows by 1.5× so sizes settle quickly. */
  private reserve(slot: keyof WasmGemm['slots'], bytes: number): number {
    const s = this.slots[slot];
    if (s.bytes >= bytes) return s.ptr;
    if (s.bytes) this.arena.release(s.ptr, s.bytes);
    const size = Math.max(bytes, Math.ceil(s.bytes * 1.5), 4096);
    s.ptr = this.arena.alloc(size, `gemm ${slot}`);
    s.bytes = size;
    return s.ptr;
  }

  /** The GemmFn contract of autograd/gemm.ts. */
  readonly gemm: GemmFn = (a, b, c, M, N, K, transA, transB, accumulate) => {
    if (M === 0 || N === 0) return;
    if (K === 0) { if (!accumulate) c.fill(0, 0, M * N); return; }
    const th = M * N * K >= this.minParallelMacs ? Math.min(this.threads, Math.ceil(N / 8)) : 1;
    const ap = this.reserve('a', M * K * 4);
    const bp = this.reserve('b', N * K * 4);
    const yp = this.reserve('y', M * N * 4);
    const pk = this.reserve('pack', th * PACK_BYTES);
    // views after every allocation: growing the shared memory replaces its buffer
    if (this.f32.buffer !== this.memory.buffer || this.f32.length * 4 !== this.memory.buffer.byteLength) this.f32 = new Float32Array(this.memory.buffer);
    const f = this.f32;
    if (transA) transposeInto(a, K, M, f, ap >> 2); // stored [K,M]
    else f.set(a.subarray(0, M * K), ap >> 2);
    if (transB) f.set(b.subarray(0, N * K), bp >> 2); // stored [N,K] already
    else transposeInto(b, K, N, f, bp >> 2); // stored [K,N]
    const parts: number[][] = [];
    const chunk = Math.ceil(N / th / 8) * 8;
    for (let n0 = 0, t = 0; n0 < N; n0 += chunk, t++) {
      parts.push([FMT_F32_ROWS, bp, 0, ap, yp, M, N, K, n0, Math.min(N, n0 + chunk), pk + t * PACK_BYTES]);
    }
    this.pool.run('gemm', parts);
    const y = f.subarray(yp >> 2, (yp >> 2) + M * N);
    if (accumulate) for (let i = 0; i < M * N; i++) c[i] += y[i]!;
    else c.set(y);
  };
}

/** dst[off + c·R + r] = src[r·C + c] for src [R,C]; tiles of 32×32 keep both sides in cache. */
function transposeInto(src: Float32Array, R: number, C: number, dst: Float32Array, off: number): void {
  const T = 32;
  for (let r0 = 0; r0 < R; r0 += T) {
    const r1 = Math.min(R, r0 + T);
    for (let c0 = 0; c0 < C; c0 += T) {
      const c1 = Math.min(C, c0 + T);
      for (let r = r0; r < r1; r++) {
        const so = r * C;
        for (let c = c0; c < c1; c++) dst[off + c * R + r] = src[so + c]!;
      }
    }
  }
}
