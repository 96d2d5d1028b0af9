// npm run bench:setup — installs node-llama-cpp (prebuilt CPU binaries) into bench/llamacpp, then sets aside the
// CPU variant built for AMX (libggml-cpu-sapphirerapids.so) on machines that have AMX. That variant puts Q8_0
// weights in its AMX buffer type, and on DeepSeek's MLA graph some Q8_0 weight then meets an op no backend
// accepts: llama.cpp v0.5.0 aborts with `GGML_ASSERT(*cur_backend_id != -1)` (ggml-backend.cpp:1294) — the whole
// process, so it cannot be caught. Without it ggml loads its next-best variant for this CPU (AVX-512 VNNI/BF16),
// which runs every model of the bench. Undo with: npm run bench:setup -- --keep-amx
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const keepAmx = process.argv.includes('--keep-amx');
execFileSync('npm', ['--prefix', here, 'install', '--no-audit', '--no-fund'], { stdio: 'inherit' });

const bins = join(here, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
const amxLib = 'libggml-cpu-sapphirerapids.so';
const aside = join(bins, 'amx-disabled');
const cpuHasAmx = existsSync('/proc/cpuinfo') && /\bamx_int8\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
if (keepAmx) {
  if (existsSync(join(aside, amxLib))) renameSync(join(aside, amxLib), join(bins, amxLib));
  console.log('bench:setup: llama.cpp may load its AMX CPU variant');
} else if (cpuHasAmx && existsSync(join(bins, amxLib))) {
  mkdirSync(aside, { recursive: true });
  renameSync(join(bins, amxLib), join(aside, amxLib));
  console.log(`bench:setup: this CPU has AMX; set aside llama.cpp's AMX variant (${amxLib}), whose Q8_0 buffer type aborts ` +
    'on the MLA graph (GGML_ASSERT cur_backend_id != -1); ggml loads its next-best CPU variant instead');
}
