// Loads the compiled AssemblyScript kernels (made by `npm run build:wasm`): build/wasm/kernels.wasm
// (SIMD128) and build/wasm/kernels-relaxed.wasm (the same source with relaxed SIMD: fused multiply-adds).
// The relaxed build is used when this V8 accepts it; Node 20 needs --experimental-wasm-relaxed-simd,
// which NODE_OPTIONS refuses but v8.setFlagsFromString sets before compiling. A module is compiled once
// and shared with the worker threads. Liftoff is switched off first: a wasm call that starts in the
// baseline tier stays there for its whole (long) run (and Node 20's Liftoff miscompiles some relaxed ops).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

/** From src/kernels/wasm (tsx) and dist/kernels/wasm (compiled) alike, the package root is 3 levels up. */
export const WASM_PATH = fileURLToPath(new URL('../../../build/wasm/kernels.wasm', import.meta.url));
export const WASM_RELAXED_PATH = fileURLToPath(new URL('../../../build/wasm/kernels-relaxed.wasm', import.meta.url));

/** Which build: 'auto' = relaxed where supported (DSV32_WASM_SIMD=baseline|relaxed overrides). */
export type SimdChoice = 'auto' | 'relaxed' | 'baseline';
export type SimdBuild = 'relaxed' | 'baseline';

const compiled = new Map<SimdBuild, WebAssembly.Module>();
let relaxedOk: boolean | null = null;

function read(path: string): Uint8Array<ArrayBuffer> {
  if (!existsSync(path)) {
    throw new Error(`wasm backend: ${path} is missing; run \`npm run build:wasm\` (or \`npm run build\`) first`);
  }
  const b = readFileSync(path);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

/** Whether this engine runs the relaxed-SIMD build: compiling it is the check (once; the module is kept). */
export function relaxedSupported(): boolean {
  if (relaxedOk !== null) return relaxedOk;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  try {
    relaxedOk = existsSync(WASM_RELAXED_PATH) && kernelModule('relaxed') !== null;
  } catch {
    relaxedOk = false;
  }
  return relaxedOk;
}

export function resolveSimd(choice: SimdChoice = 'auto'): SimdBuild {
  const env = process.env.DSV32_WASM_SIMD;
  const want = choice !== 'auto' ? choice : env === 'baseline' || env === 'relaxed' ? env : 'auto';
  if (want === 'baseline') return 'baseline';
  if (relaxedSupported()) return 'relaxed';
  if (want === 'relaxed') throw new Error('wasm backend: relaxed SIMD was asked for but this engine does not accept build/wasm/kernels-relaxed.wasm');
  return 'baseline';
}

export function kernelModule(build: SimdBuild = 'baseline'): WebAssembly.Module {
  const have = compiled.get(build);
  if (have) return have;
  setFlagsFromString('--no-liftoff');
  const m = new WebAssembly.Module(read(build === 'relaxed' ? WASM_RELAXED_PATH : WASM_PATH));
  compiled.set(build, m);
  return m;
}

/** The kernels' exports (see assembly/kernels.ts); pointers are byte offsets into the shared memory. */
export interface KernelExports {
  [name: string]: (...args: number[]) => void;
}

export function instantiate(memory: WebAssembly.Memory, build: SimdBuild = 'baseline'): KernelExports {
  const inst = new WebAssembly.Instance(kernelModule(build), {
    env: { memory, abort: () => { throw new Error('wasm kernel abort'); } },
  });
  return inst.exports as unknown as KernelExports;
}
