#!/usr/bin/env node
// Builds the optional native GEMM (native/blas.c → native/build/Release/dsv32_blas.node) with npm's own
// node-gyp, against the Node headers installed beside this node binary (no download) and the system's
// OpenBLAS (`npm run setup:native` installs Debian's libopenblas-dev first). Nothing needs it: without it
// the wasm backend does every product itself.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeGyp = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]
  .find((p) => p && existsSync(p));
if (!nodeGyp) {
  console.error('build-native: node-gyp not found (it ships with npm); run this through `npm run build:native`');
  process.exit(1);
}
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : null);
const args = [nodeGyp, 'rebuild', '--directory', join(root, 'native'), ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build-native: failed; the wasm kernels keep working. Needs a C compiler, the Node headers and OpenBLAS (npm run setup:native).');
  process.exit(r.status ?? 1);
}
console.log('build-native: wrote native/build/Release/dsv32_blas.node');
