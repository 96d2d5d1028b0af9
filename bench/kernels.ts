// Kernel microbenchmarks: the wasm backend (native formats and q8 repack, 1 and 2 threads) against the
// portable TypeScript backend, side by side. Best of N runs (the machine is shared; clocks vary).
// Usage: npm run bench:kernels [-- --quick]
import { cpus } from 'node:os';
import { f32ToE4m3, fp8RoundTripInPlace } from '../src/formats/dtype.js';
import type { DType } from '../src/formats/dtype.js';
import type { Backend, LayerCacheView, Linear } from '../src/kernels/backend.js';
import { PortableBackend } from '../src/kernels/portable.js';
import { WasmBackend } from '../src/kernels/wasm/backend.js';
import { relaxedSupported } from '../src/kernels/wasm/module.js';
import { ensureWasmBuilt, randomF32, randomWeight, rng } from '../src/kernels/wasm/testutil.js';

const quick = process.argv.includes('--quick');

function best(runs: number, f: () => void): number {
  f(); // warm-up
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1000;
}

const fmt = (v: number, d = 1) => v.toFixed(d);

/** FP8 weights as a checkpoint has them: Gaussian values scaled so a block's max is near 448. */
function gaussianFp8(N: number, K: number): ReturnType<typeof randomWeight> {
  const r = rng(99);
  const out = randomWeight('F8_E4M3', N, K, r);
  const b = out.w.bytes;
  for (let i = 0; i < b.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    b[i] = f32ToE4m3(Math.max(-448, Math.min(448, g * 100)));
  }
  return out;
}
const DT: Record<string, DType> = { f32: 'F32', bf16: 'BF16', fp8: 'F8_E4M3' };

ensureWasmBuilt();
const portable = new PortableBackend();
const wasm = {
  native1: await WasmBackend.create({ threads: 1, nativeGemm: 'off' }),
  native2: await WasmBackend.create({ threads: 2, nativeGemm: 'off' }),
  q81: await WasmBackend.create({ threads: 1, weights: 'q8', nativeGemm: 'off' }),
  q82: await WasmBackend.create({ threads: 2, weights: 'q8', nativeGemm: 'off' }),
};
console.log(`# dsv32 kernel benchmarks — ${cpus()[0]?.model} ×${cpus().length}, Node ${process.version}, best of N\n`);

// ---- dispatch cost ---------------------------------------------------------------------------------
{
  const { w } = randomWeight('F32', 8, 16, rng(1));
  const x = randomF32(16, rng(2));
  const one = await WasmBackend.create({ threads: 1 });
  const two = await WasmBackend.create({ threads: 2, minParallelMacs: 0 });
  const l1 = one.linear('w', w);
  const l2 = two.linear('w', w);
  const reps = 20000;
  const t1 = best(5, () => { for (let i = 0; i < reps; i++) one.matmul(x, 1, l1); }) / reps;
  const t2 = best(5, () => { for (let i = 0; i < reps; i++) two.matmul(x, 1, l2); }) / reps;
  console.log(`dispatch: 8×16 GEMV call ${fmt(t1 * 1e6, 2)} µs on 1 thread, ${fmt(t2 * 1e6, 2)} µs split over 2 (cost of one wake-up ≈ ${fmt((t2 - t1) * 1e6, 2)} µs)\n`);
  await one.close();
  await two.close();
}

// ---- GEMV (M = 1) ----------------------------------------------------------------------------------
{
  const N = quick ? 2048 : 4096;
  const K = quick ? 4096 : 8192;
  console.log(`## GEMV ${N}×${K} (M=1), weights not in cache\n`);
  console.log('| format | bytes/weight | portable TS | wasm 1 thread | wasm 2 threads | speed-up (2t vs TS) |');
  console.log('|---|---|---|---|---|---|');
  const x = randomF32(K, rng(3));
  for (const f of ['f32', 'bf16', 'fp8', 'fp8u', 'q8'] as const) {
    const { w, s } = f === 'fp8' ? gaussianFp8(N, K) : randomWeight(f === 'q8' ? 'BF16' : f === 'fp8u' ? 'F8_E4M3' : DT[f]!, N, K, rng(4));
    const [b1, b2] = f === 'q8' ? [wasm.q81, wasm.q82] : [wasm.native1, wasm.native2];
    const l1 = b1.linear('w', w, s);
    const l2 = b2.linear('w', w, s);
    const bytes = f === 'f32' ? 4 : f === 'bf16' ? 2 : f === 'q8' ? 1 + 4 / 32 : 1;
    const gbs = (t: number) => (N * K * bytes) / t / 1e9;
    const gfl = (t: number) => (2 * N * K) / t / 1e9;
    const t1 = best(8, () => b1.matmul(x, 1, l1));
    const t2 = best(8, () => b2.matmul(x, 1, l2));
    // portable on a quarter of the rows (it is compute bound, not memory bound)
    const pw = randomWeight(f === 'q8' ? 'BF16' : f === 'fp8u' ? 'F8_E4M3' : DT[f]!, N / 4, K, rng(5));
    const pl = portable.linear('w', pw.w, pw.s);
    const tp = best(2, () => portable.matmul(x, 1, pl)) * 4;
    const label = f === 'q8' ? 'q8 (from bf16)' : f === 'fp8' ? 'fp8 (Gaussian codes, as in checkpoints)' : f === 'fp8u' ? 'fp8 (uniform random codes: worst case)' : f;
    console.log(`| ${label} | ${bytes} | ${fmt(gfl(tp), 2)} GFLOP/s | ${fmt(gbs(t1))} GB/s, ${fmt(gfl(t1))} GFLOP/s | ${fmt(gbs(t2))} GB/s, ${fmt(gfl(t2))} GFLOP/s | ${fmt(tp / t2)}× |`);
    b1.release(l1);
    b2.release(l2);
  }
  console.log();
}

// ---- GEMM (prefill) --------------------------------------------------------------------------------
{
  const N = 2048;
  const K = 2048;
  console.log(`## GEMM M×${N}×${K} (GFLOP/s)\n`);
  console.log('| weights | M | portable TS | wasm 1 thread | wasm 2 threads |');
  console.log('|---|---|---|---|---|');
  const Ms = quick ? [64, 256] : [64, 128, 512];
  for (const f of ['f32', 'bf16', 'fp8', 'q8'] as const) {
    const { w, s } = f === 'fp8' ? gaussianFp8(N, K) : randomWeight(f === 'q8' ? 'BF16' : DT[f]!, N, K, rng(6));
    const [b1, b2] = f === 'q8' ? [wasm.q81, wasm.q82] : [wasm.native1, wasm.native2];
    const l1 = b1.linear('w', w, s);
    const l2 = b2.linear('w', w, s);
    let pl: Linear | null = null;
    for (const M of Ms) {
      const x = randomF32(M * K, rng(M));
      const gfl = (t: number) => (2 * M * N * K) / t / 1e9;
      const runs = M >= 512 ? 2 : 3;
      const t1 = best(runs, () => b1.matmul(x, M, l1));
      const t2 = best(runs, () => b2.matmul(x, M, l2));
      let tp = '';
      if (M === Ms[0]) { // portable once, on 256 output rows
        const pw = randomWeight(f === 'q8' ? 'BF16' : DT[f]!, 256, K, rng(7));
        pl = portable.linear('w', pw.w, pw.s);
        const t = best(1, () => portable.matmul(x, M, pl!));
        tp = `${fmt((2 * M * 256 * K) / t / 1e9, 2)}`;
      }
      console.log(`| ${f} | ${M} | ${tp} | ${fmt(gfl(t1))} | ${fmt(gfl(t2))} |`);
    }
    b1.release(l1);
    b2.release(l2);
  }
  console.log();
}

// ---- attention-side kernels ------------------------------------------------------------------------
function cache(T: number, R: number, P: number, D: number): LayerCacheView {
  const r = rng(11);
  const codes = (n: number) => { const c = new Uint8Array(n); for (let i = 0; i < n; i++) c[i] = Math.floor(r() * 126); return c; };
  return {
    rank: R, ropeDim: P, latentFp8: true, latentCodes: codes(T * R), latentScales: randomF32(T * R / 128, r), latentF32: new Float32Array(0),
    pe: randomF32(T * P, r), indexDim: D, indexCodes: codes(T * D), indexScales: randomF32(T, r),
  };
}
{
  const H = 64, D = 128, T = quick ? 4096 : 16384;
  const c = cache(T, 512, 64, D);
  const q = randomF32(H * D, rng(12));
  fp8RoundTripInPlace(q, 128);
  const w = randomF32(H, rng(13));
  const out = new Float32Array(T);
  const rate = (b: Backend, n: number, runs: number) => n / best(runs, () => b.indexerScores(q, w, H, c, n, out));
  console.log(`## Indexer scores (H=${H}, D=${D}, FP8 keys): tokens/s\n`);
  console.log(`portable TS ${fmt(rate(portable, 1024, 2) / 1e6, 2)} M/s · wasm 1 thread ${fmt(rate(wasm.native1, T, 5) / 1e6, 2)} M/s · wasm 2 threads ${fmt(rate(wasm.native2, T, 5) / 1e6, 2)} M/s (T=${T})\n`);

  const Hl = 128, n = 2048, Tl = 8192;
  const cl = cache(Tl, 512, 64, D);
  const sel = new Int32Array(n);
  for (let i = 0; i < n; i++) sel[i] = Math.floor((i * Tl) / n);
  const qLat = randomF32(Hl * 512, rng(14), 0.05);
  const qPe = randomF32(Hl * 64, rng(15), 0.05);
  const o = new Float32Array(Hl * 512);
  const lat = (b: Backend, runs: number) => best(runs, () => b.latentAttention(qLat, qPe, Hl, cl, Tl, sel, n, 0.1, o)) * 1000;
  console.log(`## Latent attention (H=${Hl}, rank 512, rope 64, ${n} selected of ${Tl}, FP8 latents): ms per call\n`);
  console.log(`portable TS ${fmt(lat(portable, 1), 1)} ms · wasm 1 thread ${fmt(lat(wasm.native1, 5), 2)} ms · wasm 2 threads ${fmt(lat(wasm.native2, 5), 2)} ms\n`);

  const scores = randomF32(65536, rng(16));
  const idx = new Int32Array(2048);
  const tk = (b: Backend) => best(30, () => b.topk(scores, 65536, 2048, idx)) * 1000; // 30: the selection is JIT-compiled JS and needs warming up
  console.log(`## top-k (k=2048 of 65536): portable sort ${fmt(tk(portable), 2)} ms · selection ${fmt(tk(wasm.native1), 2)} ms\n`);
}

// ---- the two kernel builds, and grouped vs per-head absorbed products ---------------------------------
{
  // in cache (GEMV weights of at most 1 MiB, 1 thread), so the instruction count decides, not the memory
  const builds = relaxedSupported() ? (['baseline', 'relaxed'] as const) : (['baseline'] as const);
  console.log(`## SIMD128 vs relaxed-SIMD build, 1 thread, operands in cache${builds.length < 2 ? ' (relaxed SIMD not available here)' : ''}\n`);
  console.log(`| kernel | ${builds.join(' | ')} |`);
  console.log(`|---|${builds.map(() => '---').join('|')}|`);
  const rows: Record<string, string[]> = {};
  for (const simd of builds) {
    for (const weights of ['native', 'q8'] as const) {
      const b = await WasmBackend.create({ threads: 1, simd, weights, nativeGemm: 'off' });
      const cases = weights === 'q8' ? [['q8 GEMV 128×2048 (G weights/s)', 'BF16', 1]] as const
        : [['bf16 GEMV 128×2048 (G weights/s)', 'BF16', 1], ['f32 GEMV 128×2048 (G weights/s)', 'F32', 1], ['bf16 GEMM 64×512×4096 (GFLOP/s)', 'BF16', 64]] as const;
      for (const [label, dt, M] of cases) {
        const N = M === 1 ? 128 : 512, K = M === 1 ? 2048 : 4096;
        const { w } = randomWeight(dt, N, K, rng(21));
        const l = b.linear('w', w);
        const x = randomF32(M * K, rng(22));
        const reps = M === 1 ? 200 : 20;
        const t = best(20, () => { for (let i = 0; i < reps; i++) b.matmul(x, M, l); }) / reps;
        (rows[label] ??= []).push(M === 1 ? fmt((N * K) / t / 1e9) : fmt((2 * M * N * K) / t / 1e9));
        b.release(l);
      }
      if (weights === 'native') {
        const c = cache(512, 512, 64, 128);
        const qLat = randomF32(16 * 512, rng(23), 0.05), qPe = randomF32(16 * 64, rng(24), 0.05);
        const o = new Float32Array(16 * 512);
        const t = best(20, () => b.latentAttention(qLat, qPe, 16, c, 512, null, 0, 0.1, o));
        (rows['latent attention, 16 heads × 512 rows (ms)'] ??= []).push(fmt(t * 1000, 3));
      }
      await b.close();
    }
  }
  for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${v.join(' | ')} |`);
  console.log();

  // the absorbed W_UK products of one decode token: 16 heads × (512×128), 2 threads
  const H = 16, R = 512, nope = 128;
  const { w } = randomWeight('BF16', H * R, nope, rng(25));
  const b = wasm.native2;
  const stacked = b.linear('uk', w);
  const heads = Array.from({ length: H }, (_, h) => b.linear(`uk${h}`, { ...w, shape: [R, nope], bytes: w.bytes.subarray(h * R * nope * 2, (h + 1) * R * nope * 2) }));
  const x = randomF32(H * nope, rng(26));
  const y = new Float32Array(H * R);
  const tg = best(20, () => { for (let i = 0; i < 50; i++) b.matmulGrouped(x, H, stacked, y); }) / 50;
  const th = best(20, () => { for (let i = 0; i < 50; i++) for (let h = 0; h < H; h++) b.matmul(x.subarray(h * nope, (h + 1) * nope), 1, heads[h]!, y.subarray(h * R, (h + 1) * R)); }) / 50;
  console.log(`## Absorbed per-head products (16 heads × 512×128 bf16, 2 threads): ${H} matmul calls ${fmt(th * 1e6, 1)} µs · one grouped call ${fmt(tg * 1e6, 1)} µs (${fmt(th / tg, 2)}×)\n`);
  b.release(stacked);
  for (const l of heads) b.release(l);
}

// ---- q8 accuracy -----------------------------------------------------------------------------------
{
  const N = 1024, K = 4096;
  console.log(`## q8 accuracy vs portable (${N}×${K}, uniform random weights and activations)\n`);
  for (const src of ['BF16', 'F8_E4M3'] as const) {
    const { w, s } = randomWeight(src, N, K, rng(17));
    const x = randomF32(4 * K, rng(18));
    const want = portable.matmul(x, 4, portable.linear('w', w, s, true));
    const lq = wasm.q81.linear('w', w, s, true);
    const got = wasm.q81.matmul(x, 4, lq);
    let mx = 0, e = 0, se = 0, sy = 0;
    for (let i = 0; i < want.length; i++) {
      mx = Math.max(mx, Math.abs(want[i]!));
      e = Math.max(e, Math.abs(got[i]! - want[i]!));
      se += (got[i]! - want[i]!) ** 2;
      sy += want[i]! ** 2;
    }
    console.log(`q8 from ${src}${src === 'F8_E4M3' ? ' (actQuant on)' : ''}: max|Δ|/max|y| = ${(e / mx).toExponential(2)}, ‖Δ‖/‖y‖ = ${Math.sqrt(se / sy).toExponential(2)}`);
    wasm.q81.release(lq);
  }
}

for (const b of Object.values(wasm)) await b.close();
