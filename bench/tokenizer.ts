// Tokenizer throughput on 1 MB of mixed text (English, Chinese/Japanese, code, emoji, numbers,
// DSML markup, special tokens). Run: npm run bench:tokenizer
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { StreamDecoder, deepseekV32 } from '../src/tokenizer/index.js';

const SNIPPETS = [
  'The quick brown fox jumps over the lazy dog, while the committee debated whether 3.14159 was "close enough". ',
  "It's a truth universally acknowledged that a single model, in possession of good weights, must be in want of a tokenizer. ",
  '明天杭州和北京的天气怎么样？根据查询结果，明天的最高温度为12°C，最低温度为5°C，湿度65%。',
  '東京タワーの近くで、ひらがなとカタカナを勉強しています。',
  'function fib(n: number): number {\n  return n < 2 ? n : fib(n - 1) + fib(n - 2);\n}\n',
  'for i in range(10_000):\n    total += i ** 2  # accumulate\n',
  'Emoji 😀👍🏽 👨‍👩‍👧‍👦 🇨🇳 ✨ and accents café naïve résumé. ',
  'Invoice #20240116: 1,234,567.89 USD due 2024-01-17T14:30:00Z. ',
  '<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Hangzhou</｜DSML｜parameter>\n</｜DSML｜invoke>\n',
  '<｜User｜>谢谢！那后天呢？<｜Assistant｜><think>用户现在问后天的天气</think>',
  '    \n\n\t  whitespace   runs  \n',
];

// Deterministic mix (LCG) up to 1 MiB of UTF-8.
function corpus(bytes: number): string {
  let seed = 12345;
  const parts: string[] = [];
  let size = 0;
  const enc = new TextEncoder();
  while (size < bytes) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    // A snippet plus a random number and word, so not every piece hits the BPE cache.
    const word = Array.from({ length: 3 + (seed % 7) }, (_, i) => String.fromCharCode(97 + ((seed >>> (i * 3)) % 26))).join('');
    const s = `${SNIPPETS[seed % SNIPPETS.length]!}${seed % 100000} ${word} `;
    parts.push(s);
    size += enc.encode(s).length;
  }
  return parts.join('');
}

const MB = 1 << 20;
const text = corpus(MB);
const bytes = new TextEncoder().encode(text).length;

let t = performance.now();
const tok = deepseekV32();
const loadMs = performance.now() - t;

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, (performance.now() - t0) / 1000];
}

const [ids, coldS] = time(() => tok.encode(text));
const warm: number[] = [];
for (let i = 0; i < 3; i++) warm.push(time(() => tok.encode(text))[1]);
warm.sort((a, b) => a - b);
const warmS = warm[1]!;
const [decoded, decodeS] = time(() => tok.decode(ids));
if (decoded !== text) throw new Error('round trip failed');
const [, streamS] = time(() => {
  const sd = new StreamDecoder(tok);
  for (const id of ids) sd.push(id);
  return sd.flush();
});

const mbps = (s: number) => (bytes / MB / s).toFixed(2);
const tps = (s: number) => Math.round(ids.length / s).toLocaleString('en-US');
console.log(`machine: ${cpus()[0]?.model} x${cpus().length}, Node ${process.version}`);
console.log(`text: ${bytes} bytes, ${text.length} chars -> ${ids.length} tokens (${(bytes / ids.length).toFixed(2)} bytes/token)`);
console.log(`load V3.2 tokenizer: ${loadMs.toFixed(0)} ms`);
console.log(`encode (cold BPE cache): ${coldS.toFixed(3)} s = ${mbps(coldS)} MB/s, ${tps(coldS)} tokens/s`);
console.log(`encode (warm, median of 3): ${warmS.toFixed(3)} s = ${mbps(warmS)} MB/s, ${tps(warmS)} tokens/s`);
console.log(`decode: ${decodeS.toFixed(3)} s = ${mbps(decodeS)} MB/s, ${tps(decodeS)} tokens/s`);
console.log(`StreamDecoder (one id per push): ${streamS.toFixed(3)} s = ${tps(streamS)} tokens/s`);
