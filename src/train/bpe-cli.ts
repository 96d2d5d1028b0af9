// npm run train:tokenizer [-- --corpus data/corpus/train.txt --out data/tokenizer --vocab 8192]
// Trains the byte-level BPE tokenizer of the default tiny model on the corpus (npm run build:corpus).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countWords, trainBpe } from './bpe.js';
import { modelVocabSizeFor, toTokenizerJson, tokenizerConfigJson } from './bpe-tokenizer-json.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    corpus: { type: 'string', default: join(repo, 'data/corpus/train.txt') },
    out: { type: 'string', default: join(repo, 'data/tokenizer') },
    vocab: { type: 'string', default: '8192' },
    'min-frequency': { type: 'string', default: '2' },
    'model-max-length': { type: 'string', default: '4096' },
  },
});

const t0 = Date.now();
const log = (msg: string) => console.log(`[train-tokenizer ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

const text = readFileSync(resolve(opts.corpus), 'utf8');
log(`read ${opts.corpus}: ${(Buffer.byteLength(text) / 1e6).toFixed(2)} MB`);
const counts = countWords(text);
let total = 0;
for (const c of counts.values()) total += c;
log(`pre-tokenized: ${total} pre-tokens, ${counts.size} distinct`);

const vocab = Number(opts.vocab);
const model = trainBpe(counts, {
  modelVocabSize: modelVocabSizeFor(vocab),
  minFrequency: Number(opts['min-frequency']),
  onProgress: (n, best) => log(`${n} merges (last pair seen ${best} times)`),
});
log(`trained: ${model.merges.length} merges, ${model.tokens.length} BPE tokens`);

const json = toTokenizerJson(model);
const outDir = resolve(opts.out);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'tokenizer.json'), JSON.stringify(json, null, 2) + '\n');
writeFileSync(join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(Number(opts['model-max-length'])), null, 2) + '\n');
const added = (json.added_tokens as unknown[]).length;
log(`wrote ${outDir}/tokenizer.json (${model.tokens.length + added} ids) and tokenizer_config.json`);
