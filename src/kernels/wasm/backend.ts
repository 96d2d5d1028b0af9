// The WebAssembly SIMD backend: weights are copied once into one shared wasm memory in a kernel-friendly
// format, and the heavy kernels (matmul, matmulList, indexer scores, latent attention, prefill MHA as GEMMs)
// run in wasm split across a worker pool; norms delegate to the portable backend. Past the ~500-line
// guideline on purpose: every entry point is a thin marshalling layer over the same private memory,
// scratch buffers and pool, which splitting the class would have to expose.
import { availableParallelism } from 'node:os';
import { decodeInto, fp8RoundTripInPlace } from '../../formats/dtype.js';
import type { StoredTensor } from '../../formats/safetensors.js';
import type { Backend, CacheAllocator, LayerCacheView, Linear, LinearOptions, MatmulItem } from '../backend.js';
import { checkLinear, groupRows, PortableBackend } from '../portable.js';
import { Arena } from './arena.js';
import { resolveSimd, type SimdBuild, type SimdChoice } from './module.js';
import { ThreadPool } from './pool.js';
import { TopkWork, topkSelect } from './topk.js';
import { tileRows, untileQ8, untileRows } from './layout.js';
import { nativeGemm, type NativeGemm } from '../native.js';

export interface WasmBackendOptions {
  /** 'native' keeps F32/BF16/FP8 as stored (F16 widened to F32); 'q8' repacks to int8 blocks of 32 at load. */
  weights?: 'native' | 'q8';
  /** Threads per kernel call, this one included (default: min(2, cores)). */
  threads?: number;
  /** Budget of the shared wasm memory in bytes (default and maximum 4 GiB). */
  maxMemoryBytes?: number;
  /** Kernel build: 'auto' (default) = relaxed SIMD (fused multiply-add) where the engine accepts it. */
  simd?: SimdChoice;
  /** Matmuls with fewer multiply-adds than this run on one thread (dispatch costs ~1 µs idle, far more when the other core is busy). */
  minParallelMacs?: number;
  /**
   * The optional native GEMM (src/kernels/native.ts) for products of at least `nativeMinRows` rows (prefill):
   * 'auto' (default) uses it when it is built, 'off' never. Decode always runs in wasm.
   */
  nativeGemm?: 'auto' | 'off';
}

/** Rows from which a product goes to the native GEMM when there is one (its weights are unpacked to fp32 per call). */
const NATIVE_MIN_ROWS = 16;

type Format = 'f32' | 'bf16' | 'fp8' | 'q8';
const FMT_CODE: Record<Exclude<Format, 'q8'>, number> = { f32: 0, bf16: 1, fp8: 2 };
/** gemv_list's code for a q8 item (FMT_Q8 in assembly/grouped.ts). */
const FMT_Q8 = 9;
const BLOCK = 128;
const QB = 32;
const KC = 256; // gemm's K block (assembly/gemm.ts)
const FLASH_TILE = 32; // rows per tile of flash_part (assembly/flash.ts)

export class WasmLinear implements Linear {
  constructor(
    readonly owner: WasmBackend,
    readonly name: string,
    readonly outDim: number,
    readonly inDim: number,
    readonly actQuant: boolean,
    readonly format: Format,
    /** weight rows (q8: int8 rows of kPadded) */
    readonly ptr: number,
    readonly bytes: number,
    /** fp8: fp32 block scales [ceil(N/128), ceil(K/128)]; q8: fp32 [N, kPadded/32]; else 0 */
    readonly scalePtr: number,
    readonly scaleBytes: number,
    readonly kPadded: number,
  ) {}

  /**
   * The first n rows as a linear of its own (same memory: rows are tiled four at a time, so a prefix of
   * whole tiles is a prefix of the buffer). n must be a multiple of 4, or the whole; f32/bf16 only
   * (fp8/q8 scales are laid out per 128/32-row block).
   */
  rowsPrefix(n: number): WasmLinear {
    if (n === this.outDim) return this;
    if (n > this.outDim || n % 4 || (this.format !== 'f32' && this.format !== 'bf16')) throw new Error(`${this.name}: no ${n}-row prefix view`);
    return new WasmLinear(this.owner, this.name, n, this.inDim, this.actQuant, this.format, this.ptr, this.bytes, this.scalePtr, this.scaleBytes, this.kPadded);
  }
}

export class WasmBackend implements Backend {
  readonly name: string;
  readonly threads: number;
  readonly weights: 'native' | 'q8';
  readonly simd: SimdBuild;
  private readonly memory: WebAssembly.Memory;
  private readonly arena: Arena;
  private readonly pool: ThreadPool;
  private readonly portable = new PortableBackend();
  private readonly minParallelMacs: number;
  private readonly native: NativeGemm | null;
  private readonly scratch = new Map<string, { ptr: number; bytes: number }>();
  private views: { u8: Uint8Array; f32: Float32Array; i32: Int32Array } | null = null;

  constructor(opts: WasmBackendOptions = {}) {
    this.weights = opts.weights ?? 'native';
    this.threads = Math.max(1, Math.floor(opts.threads ?? Math.min(2, availableParallelism())));
    this.minParallelMacs = opts.minParallelMacs ?? 1 << 16;
    const maxBytes = Math.min(opts.maxMemoryBytes ?? 2 ** 32, 2 ** 32);
    const maxPages = Math.floor(maxBytes / 65536);
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: maxPages, shared: true });
    this.arena = new Arena(this.memory, maxPages * 65536);
    this.simd = resolveSimd(opts.simd);
    this.pool = new ThreadPool(this.memory, this.threads, this.simd);
    this.native = opts.nativeGemm === 'off' ? null : nativeGemm();
    if (this.native) this.native.threads(this.threads);
    this.name = `wasm-${this.weights}-${this.threads}t${this.simd === 'relaxed' ? '-relaxed' : ''}${this.native ? '+blas' : ''}`;
  }

  /** Constructs the backend and waits for its worker threads to start. */
  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    const b = new WasmBackend(opts);
    await b.pool.ready();
    return b;
  }

  /** Terminates the worker threads; the backend is unusable afterwards. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Bytes of the shared memory held by weights and scratch. */
  get memoryInUse(): number {
    return this.arena.used;
  }

  /** Gives a linear's weight memory back (the linear must not be used afterwards). */
  // ---- caches in wasm memory: kernels read them in place instead of copying them every call --------

  private readonly owned = new WeakMap<ArrayBufferView, { ptr: number; bytes: number }>();
  private readonly finalizer = new FinalizationRegistry<{ ptr: number; bytes: number }>((b) => this.arena.release(b.ptr, b.bytes));

  private allocView<T extends Uint8Array | Float32Array>(n: number, bpe: number, make: (buf: ArrayBufferLike, ptr: number, n: number) => T, empty: T): T {
    if (n === 0) return empty;
    const bytes = n * bpe;
    const ptr = this.arena.alloc(bytes, 'cache');
    const v = make(this.memory.buffer, ptr, n);
    const rec = { ptr, bytes };
    this.owned.set(v, rec);
    this.finalizer.register(v, rec, v); // a cache dropped without release() still gives its memory back
    return v;
  }

  readonly cacheAllocator: CacheAllocator = {
    u8: (n) => this.allocView(n, 1, (b, p, k) => new Uint8Array(b, p, k), new Uint8Array(0)),
    f32: (n) => this.allocView(n, 4, (b, p, k) => new Float32Array(b, p, k), new Float32Array(0)),
    free: (a) => {
      const rec = this.owned.get(a);
      if (!rec) return;
      this.owned.delete(a);
      this.finalizer.unregister(a);
      this.arena.release(rec.ptr, rec.bytes);
    },
  };

  /** The wasm address of an array that lives in this backend's memory, else -1. */
  private addressOf(a: ArrayBufferView): number {
    return this.owned.has(a) ? a.byteOffset : -1;
  }

  release(lin: Linear): void {
    const w = this.own(lin);
    this.arena.release(w.ptr, w.bytes);
    if (w.scaleBytes) this.arena.release(w.scalePtr, w.scaleBytes);
  }

  // ---- memory helpers ---------------------------------------------------------------------------

  private get u8(): Uint8Array { return this.view().u8; }
  private get f32(): Float32Array { return this.view().f32; }

  private view(): { u8: Uint8Array; f32: Float32Array; i32: Int32Array } {
    const buf = this.memory.buffer;
    if (!this.views || this.views.u8.byteLength !== buf.byteLength) {
      this.views = { u8: new Uint8Array(buf), f32: new Float32Array(buf), i32: new Int32Array(buf) };
    }
    return this.views;
  }

  /** A re-used scratch buffer of at least `bytes` (contents undefined). */
  private buf(slot: string, bytes: number): number {
    const cur = this.scratch.get(slot);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.arena.release(cur.ptr, cur.bytes);
    const size = Math.max(bytes, (cur?.bytes ?? 0) * 1.5, 4096);
    const ptr = this.arena.alloc(size, `scratch ${slot}`);
    this.scratch.set(slot, { ptr, bytes: size });
    return ptr;
  }

  private putF32(slot: string, a: Float32Array): number {
    const p = this.buf(slot, a.length * 4);
    this.f32.set(a, p >> 2);
    return p;
  }

  private own(lin: Linear): WasmLinear {
    if (!(lin instanceof WasmLinear) || lin.owner !== this) throw new Error(`${lin.name}: linear was not prepared by this wasm backend`);
    return lin;
  }

  /** Splits [0,total) into ≤ threads ranges aligned to `align`; `mk` builds one part's arguments. */
  private split(total: number, threads: number, align: number, mk: (a: number, b: number, t: number) => number[]): number[][] {
    const parts: number[][] = [];
    const chunk = Math.ceil(total / threads / align) * align || align;
    for (let a = 0, t = 0; a < total; a += chunk, t++) parts.push(mk(a, Math.min(total, a + chunk), t));
    return parts;
  }

  private threadsFor(macs: number): number {
    return macs >= this.minParallelMacs ? this.threads : 1;
  }

  // ---- linear layers ----------------------------------------------------------------------------

  linear(name: string, w: StoredTensor, scaleInv?: StoredTensor, actQuant = false, opts: LinearOptions = {}): Linear {
    const scales = checkLinear(name, w, scaleInv);
    const [N, K] = w.shape as [number, number];
    const aq = actQuant && w.dtype === 'F8_E4M3';
    if (this.weights === 'q8' && !opts.exact) return this.linearQ8(name, w, scales, N, K, aq);
    // rare in these checkpoints: F16 is widened once to f32 (exact)
    let src = w.bytes;
    if (w.dtype === 'F16') {
      const wide = new Float32Array(N * K);
      decodeInto('F16', w.bytes, 0, N * K, wide);
      src = new Uint8Array(wide.buffer);
    }
    const format: Format = w.dtype === 'F32' || w.dtype === 'F16' ? 'f32' : w.dtype === 'BF16' ? 'bf16' : 'fp8';
    // tiles of four rows interleaved by 16-byte blocks (4 f32, 8 BF16 or 16 FP8 values; assembly/gemv.ts)
    const rowBytes = K * (format === 'f32' ? 4 : format === 'bf16' ? 2 : 1);
    const bytes = Math.ceil(N / 4) * Math.ceil(rowBytes / 16) * 64;
    const ptr = this.arena.alloc(bytes, name);
    tileRows(src, N, rowBytes, this.u8, ptr, bytes);
    let sp = 0;
    let sb = 0;
    if (scales) {
      sb = scales.length * 4;
      sp = this.arena.alloc(sb, `${name} scales`);
      this.f32.set(scales, sp >> 2);
    }
    return new WasmLinear(this, name, N, K, aq, format, ptr, bytes, sp, sb, K);
  }

  /** Repacks in chunks of rows (a multiple of 128, so FP8 scale rows line up) through a temporary copy. */
  private linearQ8(name: string, w: StoredTensor, scales: Float32Array | null, N: number, K: number, aq: boolean): WasmLinear {
    const Kp = Math.ceil(K / QB) * QB;
    const nb = Kp / QB;
    // tiles of four rows interleaved by block (assembly/q8.ts); the last tile's missing rows stay zero
    const Np = Math.ceil(N / 4) * 4;
    const qp = this.arena.alloc(Np * Kp, name);
    const sp = this.arena.alloc(Np * nb * 4, `${name} scales`);
    this.u8.fill(0, qp + (N & ~3) * Kp, qp + Np * Kp);
    this.u8.fill(0, sp + (N & ~3) * nb * 4, sp + Np * nb * 4);
    const f16 = w.dtype === 'F16';
    const eb = f16 ? 4 : w.bytes.length / (N * K); // bytes per element of the temporary copy
    const fmt = f16 || w.dtype === 'F32' ? 0 : w.dtype === 'BF16' ? 1 : 2;
    const rows = Math.max(BLOCK, Math.floor((16 << 20) / (K * eb) / BLOCK) * BLOCK);
    const kb = Math.ceil(K / BLOCK);
    const tmp = this.buf('repack', Math.min(rows, N) * K * eb);
    const tsc = this.buf('repack-scales', Math.ceil(Math.min(rows, N) / BLOCK) * kb * 4);
    const rowTmp = this.buf('repack-row', this.threads * K * 4);
    for (let r0 = 0; r0 < N; r0 += rows) {
      const n = Math.min(rows, N - r0);
      if (f16) decodeInto('F16', w.bytes, r0 * K, n * K, this.f32, tmp >> 2);
      else this.u8.set(w.bytes.subarray(r0 * K * eb, (r0 + n) * K * eb), tmp);
      if (scales) this.f32.set(scales.subarray((r0 / BLOCK) * kb, Math.ceil((r0 + n) / BLOCK) * kb), tsc >> 2);
      const q = qp + r0 * Kp;
      const s = sp + r0 * nb * 4;
      this.pool.run('repack_q8', this.split(n, this.threadsFor(n * K), 1,
        (a, b, t) => [fmt, tmp, tsc, K, Kp, q, s, a, b, rowTmp + t * K * 4]));
    }
    return new WasmLinear(this, name, N, K, aq, 'q8', qp, Np * Kp, sp, Np * nb * 4, Kp);
  }

  matmul(x: Float32Array, M: number, lin: Linear, y?: Float32Array): Float32Array {
    const w = this.own(lin);
    const N = w.outDim;
    const K = w.inDim;
    if (x.length < M * K) throw new Error(`${w.name}: input has ${x.length} values, need ${M}×${K}`);
    const out = y ?? new Float32Array(M * N);
    if (M === 0) return out;
    let xs = x.subarray(0, M * K);
    if (w.actQuant) {
      xs = xs.slice();
      fp8RoundTripInPlace(xs, BLOCK); // the exact same round trip as the portable backend
    }
    if (this.native && M >= NATIVE_MIN_ROWS) {
      // prefill: the weight unpacked to row-major fp32 in wasm memory (every thread), then one native product
      const wp = this.buf('native-w', N * K * 4);
      let x: Float32Array = xs;
      if (w.format === 'q8') {
        // q8 rounds the activations too (int8 per 32, as gemm_q8 does): quantised, then back to fp32
        const Kp = w.kPadded;
        const xp = this.putF32('x', xs);
        const qx = this.buf('qx', M * Kp);
        const sx = this.buf('sx', M * (Kp / QB) * 4);
        const dx = this.buf('native-x', M * K * 4);
        this.pool.run('quant_q8', this.split(M, this.threadsFor(M * K * 16), 1, (a, b) => [xp, K, Kp, qx, sx, a, b, 0]));
        this.pool.run('dequant_q8', this.split(M, this.threadsFor(M * K * 16), 1, (a, b) => [qx, sx, K, Kp, dx, a, b]));
        this.pool.run('unpack_q8', this.split(N, this.threadsFor(N * K), 1, (a, b) => [w.ptr, w.scalePtr, K, Kp, wp, a, b]));
        x = this.f32.subarray(dx >> 2, (dx >> 2) + M * K);
      } else {
        const fmt = FMT_CODE[w.format];
        this.pool.run('unpack_rows', this.split(N, this.threadsFor(N * K), 1, (a, b) => [fmt, w.ptr, w.scalePtr, K, wp, a, b]));
      }
      this.native.sgemm(x, this.f32.subarray(wp >> 2, (wp >> 2) + N * K), out, M, N, K);
      return out;
    }
    const xp = this.putF32('x', xs);
    const yp = this.buf('y', M * N * 4);
    this.matmulAt(xp, M, w, yp);
    out.set(this.f32.subarray(yp >> 2, (yp >> 2) + M * N));
    return out;
  }

  /** y[M,N] at yp = x[M,K] at xp · Wᵀ, both in wasm memory (no activation round trip: the caller's job). */
  private matmulAt(xp: number, M: number, w: WasmLinear, yp: number): void {
    const N = w.outDim;
    const K = w.inDim;
    const th = this.threadsFor(M * N * K);
    if (w.format === 'q8') {
      const Kp = w.kPadded;
      const qx = this.buf('qx', M * Kp);
      const sx = this.buf('sx', M * (Kp / QB) * 4);
      // the codes widened to int16 too: gemm_q8 widens each weight block once per two rows (M > 1) and
      // reads four streams per tile pair without room for widened activations in registers (M = 1)
      const xw = this.buf('xw', M * Kp * 2);
      this.pool.run('quant_q8', this.split(M, this.threadsFor(M * K * 16), 1, (a, b) => [xp, K, Kp, qx, sx, a, b, xw]));
      this.pool.run('gemm_q8', this.split(N, th, 4, (a, b) => [w.ptr, w.scalePtr, qx, sx, yp, M, N, Kp, a, b, xw]));
    } else if (M === 1) {
      if (w.format === 'fp8') this.pool.run('gemv_fp8', this.split(N, th, 4, (a, b) => [w.ptr, w.scalePtr, xp, yp, K, a, b]));
      else this.pool.run(w.format === 'f32' ? 'gemv_f32' : 'gemv_bf16', this.split(N, th, 4, (a, b) => [w.ptr, xp, yp, K, a, b]));
    } else {
      const pack = this.buf('pack', this.threads * KC * 8 * 4 * 2); // panel + decode scratch per thread
      const fmt = FMT_CODE[w.format];
      this.pool.run('gemm', this.split(N, th, 8, (a, b, t) => [fmt, w.ptr, w.scalePtr, xp, yp, M, N, K, a, b, pack + t * KC * 64]));
    }
  }

  matmulList(items: readonly MatmulItem[]): void {
    let fallback = items.length < 2 || this.threads < 2;
    let xBytes = 0, yBytes = 0, total = 0, macs = 0;
    for (const it of items) {
      const w = this.own(it.w);
      if (w.actQuant) fallback = true;
      xBytes += w.format === 'q8' ? w.kPadded * 3 + (w.kPadded / QB) * 4 + w.inDim * 4 : w.inDim * 4;
      yBytes += w.outDim * 4;
      total += w.outDim;
      macs += w.outDim * w.inDim;
    }
    if (fallback) {
      for (const it of items) this.matmul(it.x, 1, it.w, it.y);
      return;
    }
    // inputs (quantised for q8, with their int16 widening), outputs and one 16-i32 descriptor per item in
    // wasm memory (layout in assembly/grouped.ts); every buffer first
    const desc = this.buf('list-desc', items.length * 64);
    const xb = this.buf('list-x', xBytes);
    const yb = this.buf('list-y', yBytes);
    const { f32, i32 } = this.view();
    let xp = xb, yp = yb;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!, w = this.own(it.w);
      const K = w.inDim;
      if (it.x.length < K) throw new Error(`${w.name}: input has ${it.x.length} values, need ${K}`);
      const xin = xp;
      f32.set(it.x.length === K ? it.x : it.x.subarray(0, K), xin >> 2);
      let x = xin, xs = 0, xw = 0, fmt: number;
      xp += K * 4;
      if (w.format === 'q8') {
        x = xp; xw = xp + w.kPadded; xs = xw + w.kPadded * 2;
        xp = xs + (w.kPadded / QB) * 4;
        this.pool.run('quant_q8', [[xin, K, w.kPadded, x, xs, 0, 1, xw]]); // one part: this thread, no dispatch
        fmt = FMT_Q8;
      } else fmt = FMT_CODE[w.format];
      const d = (desc >> 2) + i * 16;
      i32[d] = w.ptr; i32[d + 1] = w.scalePtr; i32[d + 2] = x; i32[d + 3] = xs; i32[d + 4] = yp;
      i32[d + 5] = w.outDim; i32[d + 6] = w.format === 'q8' ? w.kPadded : K; i32[d + 7] = fmt; i32[d + 8] = xw;
      yp += w.outDim * 4;
    }
    // one split of all rows, at multiples of 8 (whole tile pairs where items are)
    this.pool.run('gemv_list', this.split(total, this.threadsFor(macs), 8, (a, b) => [desc, items.length, a, b]));
    yp = yb;
    for (const it of items) {
      const n = it.w.outDim;
      it.y.set(f32.subarray(yp >> 2, (yp >> 2) + n));
      yp += n * 4;
    }
  }

  matmulGrouped(x: Float32Array, G: number, lin: Linear, y?: Float32Array): Float32Array {
    const w = this.own(lin);
    const N = w.outDim;
    const K = w.inDim;
    const Nh = groupRows(w, x, G);
    const out = y ?? new Float32Array(N);
    let xs = x.subarray(0, G * K);
    if (w.actQuant) {
      xs = xs.slice();
      fp8RoundTripInPlace(xs, BLOCK);
    }
    const xp = this.putF32('x', xs);
    const yp = this.buf('y', N * 4);
    const th = this.threadsFor(N * K);
    // whole 4-row blocks per thread, never straddling a group edge unless Nh is not a multiple of 4
    if (w.format === 'q8') {
      const Kp = w.kPadded;
      const qx = this.buf('qx', G * Kp);
      const sx = this.buf('sx', G * (Kp / QB) * 4);
      this.pool.run('quant_q8', this.split(G, this.threadsFor(G * K * 16), 1, (a, b) => [xp, K, Kp, qx, sx, a, b, 0]));
      this.pool.run('gemv_q8_grouped', this.split(N, th, 4, (a, b) => [w.ptr, w.scalePtr, qx, sx, yp, Kp, Nh, a, b]));
    } else {
      const fmt = FMT_CODE[w.format];
      this.pool.run('gemv_grouped', this.split(N, th, 4, (a, b) => [fmt, w.ptr, w.scalePtr, xp, yp, K, Nh, a, b]));
    }
    out.set(this.f32.subarray(yp >> 2, (yp >> 2) + N));
    return out;
  }

  dequantize(lin: Linear): Float32Array {
    const w = this.own(lin);
    const N = w.outDim;
    const K = w.inDim;
    const out = new Float32Array(N * K);
    const u8 = this.u8;
    const f32 = this.f32;
    if (w.format === 'q8') return untileQ8(u8, f32, w.ptr, w.scalePtr, N, K, w.kPadded);
    const rows = untileRows(u8, w.ptr, N, K * (w.format === 'f32' ? 4 : w.format === 'bf16' ? 2 : 1));
    decodeInto(w.format === 'f32' ? 'F32' : w.format === 'bf16' ? 'BF16' : 'F8_E4M3', rows, 0, N * K, out);
    if (w.format === 'fp8') {
      const kb = Math.ceil(K / BLOCK);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) out[n * K + k]! *= f32[(w.scalePtr >> 2) + Math.floor(n / BLOCK) * kb + Math.floor(k / BLOCK)]!;
      }
    }
    return out;
  }

  // ---- light operations: the portable loops are already memory bound --------------------------

  rmsNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, eps: number, y?: Float32Array): Float32Array {
    return this.portable.rmsNorm(x, M, dim, gamma, eps, y);
  }

  layerNorm(x: Float32Array, M: number, dim: number, gamma: Float32Array, beta: Float32Array, eps: number, y?: Float32Array): Float32Array {
    return this.portable.layerNorm(x, M, dim, gamma, beta, eps, y);
  }

  /**
   * Prefill attention as two GEMMs per head on the SIMD kernels: scores = Q·Kᵀ, then P·V, with the causal
   * and DSA masks applied to the scores in between; queries go in blocks so the score tile stays small.
   */
  mhaAttention(q: Float32Array, k: Float32Array, v: Float32Array, S: number, T: number, P: number, H: number,
    dqk: number, dv: number, scale: number, sel: (Int32Array | null)[] | null, out: Float32Array): void {
    if (S * T < 4096) { this.portable.mhaAttention(q, k, v, S, T, P, H, dqk, dv, scale, sel, out); return; }
    const QB = Math.min(S, 128);
    const kh = new Float32Array(T * dqk);
    const vt = new Float32Array(dv * T);
    const qh = new Float32Array(QB * dqk);
    const f32 = (a: Float32Array, shape: number[]): StoredTensor => ({ name: '', dtype: 'F32', shape, bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        kh.set(k.subarray((t * H + h) * dqk, (t * H + h + 1) * dqk), t * dqk);
        const vo = (t * H + h) * dv;
        for (let d = 0; d < dv; d++) vt[d * T + t] = v[vo + d]!;
      }
      const K = this.own(this.linear('mha.k', f32(kh, [T, dqk]), undefined, false, { exact: true }));
      const V = this.own(this.linear('mha.vT', f32(vt, [dv, T]), undefined, false, { exact: true }));
      try {
        // scores and probabilities stay in wasm memory between the two products
        const sp = this.buf('mha-scores', QB * T * 4);
        const op = this.buf('mha-out', QB * dv * 4);
        for (let i0 = 0; i0 < S; i0 += QB) {
          const n = Math.min(QB, S - i0);
          for (let i = 0; i < n; i++) qh.set(q.subarray(((i0 + i) * H + h) * dqk, ((i0 + i) * H + h + 1) * dqk), i * dqk);
          // causal: this block's rows see keys 0..P+i0+n-1 at most, so Q·Kᵀ scores only those (the first
          // Tb rows of K's tiles are a prefix of its memory); rows are then spread to stride T for P·V
          const Tb = Math.min(T, Math.ceil((P + i0 + n) / 8) * 8);
          this.matmulAt(this.putF32('mha-q', qh.subarray(0, n * dqk)), n, Tb < T ? K.rowsPrefix(Tb) : K, sp);
          if (!sel) {
            // causal: row i sees keys 0..P+i0+i
            this.pool.run('softmax_causal', this.split(n, this.threadsFor(n * Tb * 16), 1, (a, b) => [sp, Tb, P + i0, scale, a, b]));
          } else {
            // the rows' selections flattened into wasm memory (offsets per row; a row without one, e.g. while
            // the context is under top-k, gets the causal softmax)
            let cnt = 0;
            for (let i = 0; i < n; i++) cnt += sel[i0 + i]?.length ?? 0;
            const offp = this.buf('mha-sel-off', (n + 1) * 4);
            const idxp = this.buf('mha-sel-idx', Math.max(1, cnt) * 4);
            const maskp = this.buf('mha-sel-mask', this.threads * Tb);
            const { i32 } = this.view();
            let o = 0;
            for (let i = 0; i < n; i++) {
              i32[(offp >> 2) + i] = o;
              const si = sel[i0 + i];
              if (si) { i32.set(si, (idxp >> 2) + o); o += si.length; }
            }
            i32[(offp >> 2) + n] = o;
            this.pool.run('softmax_sel', this.split(n, this.threadsFor(n * Tb * 16), 1, (a, b, t) => [sp, Tb, P + i0, scale, idxp, offp, maskp + t * Tb, a, b]));
          }
          if (Tb < T) {
            // stride Tb → T, last row first (the rows only move up in memory); zeros past Tb
            const f = this.f32, base = sp >> 2;
            for (let i = n - 1; i >= 0; i--) {
              f.copyWithin(base + i * T, base + i * Tb, base + (i + 1) * Tb);
              f.fill(0, base + i * T + Tb, base + (i + 1) * T);
            }
          }
          this.matmulAt(sp, n, V, op);
          const oh = this.f32.subarray(op >> 2, (op >> 2) + n * dv);
          for (let i = 0; i < n; i++) out.set(oh.subarray(i * dv, (i + 1) * dv), ((i0 + i) * H + h) * dv);
        }
      } finally {
        this.release(K);
        this.release(V);
      }
    }
  }

  private readonly topkWork = new TopkWork();

  topk(scores: Float32Array, n: number, k: number, out: Int32Array): number {
    return topkSelect(scores, n, k, out, this.topkWork);
  }

  // ---- attention-side kernels in wasm ---------------------------------------------------------

  swiglu(gate: Float32Array, up: Float32Array, n: number): Float32Array {
    if (n === 0) return gate;
    const gp = this.buf('swiglu-g', n * 4);
    const up2 = this.buf('swiglu-u', n * 4);
    const f32 = this.f32;
    f32.set(gate.subarray(0, n), gp >> 2);
    f32.set(up.subarray(0, n), up2 >> 2);
    // one multiply-add's worth per value: a decode token's ~10³ values stay on one thread, prefill rows split
    this.pool.run('swiglu', this.split(n, this.threadsFor(n), 4, (a, b) => [gp, up2, a, b]));
    gate.set(this.f32.subarray(gp >> 2, (gp >> 2) + n));
    return gate;
  }

  indexerScores(q: Float32Array, w: Float32Array, H: number, cache: LayerCacheView, T: number, out: Float32Array, rows = 1): void {
    const D = cache.indexDim;
    if (D % 16 !== 0 || T === 0 || rows === 0) { this.portable.indexerScores(q, w, H, cache, T, out, rows); return; }
    const qp = this.putF32('iq', q.subarray(0, rows * H * D));
    const wp = this.putF32('iw', w.subarray(0, rows * H));
    let cp = this.addressOf(cache.indexCodes);
    if (cp < 0) {
      cp = this.buf('icodes', T * D);
      this.u8.set(cache.indexCodes.subarray(0, T * D), cp);
    }
    let sp = this.addressOf(cache.indexScales);
    if (sp < 0) sp = this.putF32('iscales', cache.indexScales.subarray(0, T));
    const op = this.buf('iout', rows * T * 4);
    const kbuf = this.buf('ikbuf', this.threads * 16 * D);
    this.pool.run('indexer_scores', this.split(T, this.threadsFor(rows * T * H * D), 4,
      (a, b, t) => [qp, wp, rows, H, D, cp, sp, op, T, a, b, kbuf + t * 16 * D]));
    out.set(this.f32.subarray(op >> 2, (op >> 2) + rows * T));
  }

  latentAttention(qLat: Float32Array, qPe: Float32Array, H: number, cache: LayerCacheView, T: number,
    sel: Int32Array | null, selCount: number, scale: number, out: Float32Array): void {
    const R = cache.rank;
    const P = cache.ropeDim;
    const n = sel ? selCount : T;
    const fp8 = cache.latentFp8;
    if (n === 0 || (fp8 && R % BLOCK !== 0) || R % 4 !== 0 || P % 4 !== 0) {
      this.portable.latentAttention(qLat, qPe, H, cache, T, sel, selCount, scale, out);
      return;
    }
    // assembly/flash.ts: each thread runs tiles of its rows with an online softmax into its own state
    // (acc [Hp,R], m [Hp], z [Hp]); one merge combines the parts. Every buffer first: a later allocation
    // may grow the memory and leave older views short.
    const g = R / BLOCK;
    const stride = Math.ceil(H / 4) * 4 * (R + 2);
    const tileFloats = FLASH_TILE * (R + P + 4);
    const st = this.buf('flash-state', this.threads * stride * 4);
    const tile = this.buf('flash-tile', this.threads * tileFloats * 4);
    const op = this.buf('latout', H * R * 4);
    let latSrc = fp8 ? this.addressOf(cache.latentCodes) : this.addressOf(cache.latentF32);
    let scSrc = fp8 ? this.addressOf(cache.latentScales) : 0;
    let peSrc = this.addressOf(cache.pe);
    let sp = 0;
    const inMemory = latSrc >= 0 && scSrc >= 0 && peSrc >= 0;
    if (inMemory) {
      // the cache lives in wasm memory: the kernel reads (and decodes) the selected rows in place
      if (sel) sp = this.buf('latsel', n * 4);
    } else {
      latSrc = this.buf('latrows', n * R * (fp8 ? 1 : 4));
      scSrc = fp8 ? this.buf('latscales', n * g * 4) : 0;
      peSrc = this.buf('pe', n * P * 4);
    }
    const qp = this.buf('qlatpe', H * (R + P) * 4);
    const { f32, u8 } = this;
    // each head's query as [latent part | RoPE part], the layout of the kernel's key rows
    for (let h = 0; h < H; h++) {
      f32.set(qLat.subarray(h * R, (h + 1) * R), (qp >> 2) + h * (R + P));
      f32.set(qPe.subarray(h * P, (h + 1) * P), (qp >> 2) + h * (R + P) + R);
    }
    if (inMemory) {
      if (sel) new Int32Array(this.memory.buffer, sp, n).set(sel.subarray(0, n));
    } else {
      // a cache outside wasm memory: copy only the rows attention reads, then run on them in order
      for (let i = 0; i < n; i++) {
        const t = sel ? sel[i]! : i;
        f32.set(cache.pe.subarray(t * P, (t + 1) * P), (peSrc >> 2) + i * P);
        if (fp8) {
          u8.set(cache.latentCodes.subarray(t * R, (t + 1) * R), latSrc + i * R);
          f32.set(cache.latentScales.subarray(t * g, (t + 1) * g), (scSrc >> 2) + i * g);
        } else {
          f32.set(cache.latentF32.subarray(t * R, (t + 1) * R), (latSrc >> 2) + i * R);
        }
      }
    }
    const parts = this.split(n, this.threadsFor(H * n * (2 * R + P)), 2, (a, b, t) =>
      [qp, H, R, P, scale, fp8 ? 1 : 0, fp8 ? latSrc : 0, scSrc, fp8 ? 0 : latSrc, peSrc, sp, a, b, st + t * stride * 4, tile + t * tileFloats * 4]);
    this.pool.run('flash_part', parts);
    this.pool.run('flash_merge', this.split(H, this.threadsFor(H * R * parts.length * 64), 1, (a, b) => [st, stride, parts.length, H, R, op, a, b]));
    out.set(this.f32.subarray(op >> 2, (op >> 2) + H * R));
  }

}
