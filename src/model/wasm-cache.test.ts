// Caches allocated in the wasm backend's memory: kernels read them in place, results equal the
// portable backend's, and released caches give their memory back.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PortableBackend } from '../kernels/portable.js';
import { WasmBackend } from '../kernels/wasm/backend.js';
import { relErr } from '../testing/fixtures.js';
import { tinyConfigJson } from '../testing/tiny-config.js';
import { parseConfig } from './config.js';
import { DeepSeekModel } from './model.js';
import { MapSource, syntheticTensors } from './synthetic.js';

describe('caches in wasm memory', async () => {
  const wasm = await WasmBackend.create({ weights: 'native' });
  after(() => wasm.close());
  const cfg = parseConfig(tinyConfigJson({ max_position_embeddings: 512, index_topk: 16 }));
  const tensors = syntheticTensors(cfg, { seed: 13 });
  const mw = new DeepSeekModel(cfg, new MapSource(tensors), wasm);
  const mp = new DeepSeekModel(cfg, new MapSource(tensors), new PortableBackend());
  const prompt = Array.from({ length: 90 }, (_, i) => (i * 31 + 7) % cfg.vocabSize);

  it('DSA decode over a growing cache matches the portable backend', () => {
    const cw = mw.newCache();
    const cp = mp.newCache();
    const used0 = wasm.memoryInUse;
    mw.forward(prompt, 0, cw);
    mp.forward(prompt, 0, cp);
    for (let i = 0; i < 40; i++) { // past several doublings of the cache
      const t = (i * 17) % cfg.vocabSize;
      const a = mw.forward([t], 90 + i, cw).logits;
      const b = mp.forward([t], 90 + i, cp).logits;
      assert.ok(relErr(a, b) < 1e-4, `step ${i}`);
    }
    assert.ok(wasm.memoryInUse > used0, 'the cache lives in wasm memory');
    cw.release();
    assert.ok(wasm.memoryInUse <= used0 + (1 << 20), `memory in use after release: ${wasm.memoryInUse} (before: ${used0})`);
  });

  it('deepseek_v3 (fp32 latents) decodes the same through the in-wasm gather', () => {
    const raw = tinyConfigJson({ model_type: 'deepseek_v3', q_lora_rank: null, index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined });
    const c3 = parseConfig(raw);
    const t3 = syntheticTensors(c3, { seed: 3 });
    const a = new DeepSeekModel(c3, new MapSource(t3), wasm);
    const b = new DeepSeekModel(c3, new MapSource(t3), new PortableBackend());
    const ca = a.newCache();
    const cb = b.newCache();
    a.forward([1, 2, 3, 4, 5], 0, ca);
    b.forward([1, 2, 3, 4, 5], 0, cb);
    for (let i = 0; i < 30; i++) assert.ok(relErr(a.forward([i % 90], 5 + i, ca).logits, b.forward([i % 90], 5 + i, cb).logits) < 1e-4, `step ${i}`);
    ca.release();
  });
});
