#!/usr/bin/env node
// Compiles the AssemblyScript kernels (assembly/kernels.ts) twice: build/wasm/kernels.wasm (SIMD128, runs
// everywhere) and build/wasm/kernels-relaxed.wasm (plus relaxed SIMD: fused multiply-add; chosen at run
// time when the engine accepts it, src/kernels/wasm/module.ts). Both import one shared memory (up to
// 4 GiB) so one memory serves every worker thread.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}build/wasm`, { recursive: true });
for (const [name, extra] of [['kernels', []], ['kernels-relaxed', ['--enable', 'relaxed-simd']]]) {
  const { error } = await asc.main([
    'assembly/kernels.ts',
    '--outFile', `build/wasm/${name}.wasm`,
    '--textFile', `build/wasm/${name}.wat`,
    '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=',
    '--enable', 'simd', '--enable', 'threads', ...extra,
    '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
    '--memoryBase', '0',
  ], { stdout: process.stdout, stderr: process.stderr, baseDir: root });
  if (error) {
    console.error(`build-wasm: ${name}: ${error.message}`);
    process.exit(1);
  }
  console.log(`build-wasm: wrote build/wasm/${name}.wasm`);
}
