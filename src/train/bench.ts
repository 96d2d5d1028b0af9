// Training-step throughput on the 'small' preset:
//   node --import tsx src/train/bench.ts [mode=pretrain|indexer-warmup|sparse] [S=256] [B=1] [steps=3] [gemm=portable|wasm] [threads=1]
import { parseConfig } from '../model/config.js';
import { setGemm } from './autograd/gemm.js';
import { TrainModel } from './model.js';
import type { TrainMode } from './params.js';
import { presetConfig } from './presets.js';
import { PatternData } from './testdata.js';
import { Trainer } from './trainer.js';
import { WasmGemm } from './wasm-gemm.js';

const [mode = 'pretrain', S = '256', B = '1', steps = '3', gemmName = 'portable', threads = '1'] = process.argv.slice(2);
const wasm = gemmName === 'wasm' ? await WasmGemm.create({ threads: +threads }) : null;
if (wasm) setGemm(wasm.gemm);
const cfg = parseConfig(presetConfig('small'));
const model = TrainModel.init(cfg, 1);
const data = new PatternData(cfg.vocabSize, 1);
const tr = new Trainer(model, { mode: mode as TrainMode, schedule: { peak: 1e-3, min: 1e-4, warmup: 10, total: 1000 } });
console.log(`small preset: ${(model.params.count() / 1e6).toFixed(2)}M parameters, mode ${mode}, B=${B} S=${S}, gemm ${gemmName}${wasm ? ` ×${wasm.threads}` : ''}`);
tr.trainStep(data.batch(+B, +S), +B, +S); // warm-up (JIT)
let ms = 0;
for (let i = 0; i < +steps; i++) {
  const st = tr.trainStep(data.batch(+B, +S), +B, +S);
  ms += st.ms;
  console.log(`step ${st.step}: loss ${st.loss.toFixed(4)} ${st.ms.toFixed(0)} ms`);
}
console.log(`${((+B * +S * +steps) / (ms / 1000)).toFixed(0)} tokens/s`);
await wasm?.close();
