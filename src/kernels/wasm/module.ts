// Loads the compiled AssemblyScript kernels (build/wasm/kernels.wasm, made by `npm run build:wasm`).
// The module is compiled once and shared with the worker threads. Liftoff is switched off first: a
// wasm call that starts in the baseline tier stays there for its whole (long) run.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

/** From src/kernels/wasm (tsx) and dist/kernels/wasm (compiled) alike, the package root is 3 levels up. */
export const WASM_PATH = fileURLToPath(new URL('../../../build/wasm/kernels.wasm', import.meta.url));

let compiled: WebAssembly.Module | null = null;

export function kernelModule(): WebAssembly.Module {
  if (compiled) return compiled;
  if (!existsSync(WASM_PATH)) {
    throw new Error(`wasm backend: ${WASM_PATH} is missing; run \`npm run build:wasm\` (or \`npm run build\`) first`);
  }
  setFlagsFromString('--no-liftoff');
  compiled = new WebAssembly.Module(readFileSync(WASM_PATH));
  return compiled;
}

/** The kernels' exports (see assembly/kernels.ts); pointers are byte offsets into the shared memory. */
export interface KernelExports {
  [name: string]: (...args: number[]) => void;
}

export function instantiate(memory: WebAssembly.Memory): KernelExports {
  const inst = new WebAssembly.Instance(kernelModule(), {
    env: { memory, abort: () => { throw new Error('wasm kernel abort'); } },
  });
  return inst.exports as unknown as KernelExports;
}
