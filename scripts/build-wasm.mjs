#!/usr/bin/env node
// Compiles the AssemblyScript kernels (assembly/kernels.ts) to build/wasm/kernels.wasm: SIMD128,
// imported shared memory (up to 4 GiB) so one memory serves every worker thread.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}build/wasm`, { recursive: true });
const { error, stderr } = await asc.main([
  'assembly/kernels.ts',
  '--outFile', 'build/wasm/kernels.wasm',
  '--textFile', 'build/wasm/kernels.wat',
  '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd', '--enable', 'threads',
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--memoryBase', '0',
], { stdout: process.stdout, stderr: process.stderr, baseDir: root });
if (error) {
  console.error(`build-wasm: ${error.message}`);
  process.exit(1);
}
console.log('build-wasm: wrote build/wasm/kernels.wasm');
