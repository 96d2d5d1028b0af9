// dsv32 train through the command's own code path (flag parsing → pipeline) on inline text with a tiny
// config: the loss falls, the three stages chain, and the folder loads in the inference engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Checkpoint } from '../../formats/checkpoint.js';
import { parseConfig } from '../../model/config.js';
import { DeepSeekModel } from '../../model/model.js';
import { repoRoot } from '../../testing/fixtures.js';
import { tinyConfigJson } from '../../testing/tiny-config.js';
import { saveCheckpoint } from '../../train/checkpoint.js';
import type { TrainLog } from '../../train/log.js';
import { ParamStore } from '../../train/params.js';
import { trainStage, validateOptions } from '../../train/pipeline.js';
import { type TrainCliFlags, trainOptions } from './train.js';

const dir = mkdtempSync(join(tmpdir(), 'dsv32-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A few short documents, repeated: learnable in a few dozen steps.
const TEXT = Array.from({ length: 30 }, (_, i) => [
  `Chapter ${i % 3}. Emma Woodhouse, handsome, clever, and rich, had lived nearly twenty-one years in the world.`,
  'In the beginning God created the heavens and the earth. The earth was formless and empty.',
  'It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.',
].join('\n')).join('\n\n');
const dataFile = join(dir, 'train.txt');
writeFileSync(dataFile, TEXT);
const cfgFile = join(dir, 'config.json');
writeFileSync(cfgFile, JSON.stringify(tinyConfigJson({ vocab_size: 8192, hidden_size: 32, max_position_embeddings: 256, num_nextn_predict_layers: 1 })));

const flags = (o: Partial<TrainCliFlags>): TrainCliFlags => ({ seq: '32', batch: '2', steps: '24', seed: '1', saveEvery: '0', dtype: 'f32', wasm: true, threads: '1', quiet: true, ...o });
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('dsv32 train', () => {
  const pre = join(dir, 'pre');
  const warm = join(dir, 'warm');
  const sparse = join(dir, 'sparse');

  it('pretrain → indexer-warmup → sparse on inline text: loss falls, folders load in DeepSeekModel', async () => {
    const r1 = await trainStage(trainOptions('pretrain', flags({ config: cfgFile, data: dataFile, out: pre, lr: '1e-2', warmup: '3', saveEvery: '10', biasRate: '0.01' })));
    const lm = r1.log.records.map((r) => r.lm!);
    assert.ok(mean(lm.slice(-5)) < mean(lm.slice(0, 5)) - 1.5, `LM loss should fall: ${lm.map((v) => v.toFixed(2)).join(' ')}`);
    assert.ok(r1.log.records.every((r) => r.load_max_mean !== null && r.load_max_mean >= 1 && r.tokens_per_s > 0));
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'train_log.json', 'loss.svg']) {
      assert.ok(existsSync(join(pre, f)), `${f} written`);
    }
    assert.match(readFileSync(join(pre, 'loss.svg'), 'utf8'), /^(<\?xml[^>]*>\s*)?<svg[\s\S]*LM cross-entropy[\s\S]*<\/svg>\s*$/);

    // warm-up trains only the indexer: every other tensor is bit-identical afterwards
    const r2 = await trainStage(trainOptions('indexer-warmup', flags({ model: pre, data: dataFile, out: warm, steps: '12', lr: '3e-3', seed: '2' })));
    const kl = r2.log.records.map((r) => r.indexer_kl!);
    assert.ok(kl.every(Number.isFinite) && mean(kl.slice(-3)) < mean(kl.slice(0, 3)), `indexer KL should fall: ${kl.join(' ')}`);
    const a = Checkpoint.open(pre), b = Checkpoint.open(warm);
    try {
      for (const name of a.names()) {
        const same = Buffer.compare(a.read(name).bytes, b.read(name).bytes) === 0;
        assert.equal(same, !name.includes('.indexer.'), `${name} ${same ? 'unchanged' : 'changed'}`);
      }
    } finally { a.close(); b.close(); }

    const r3 = await trainStage(trainOptions('sparse', flags({ model: warm, data: dataFile, out: sparse, steps: '6', lr: '1e-3', topk: '6', dtype: 'bf16', seed: '3' })));
    assert.ok(r3.log.records.every((r) => Number.isFinite(r.lm!) && Number.isFinite(r.indexer_kl!)));
    const cfg = JSON.parse(readFileSync(join(sparse, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.index_topk, 6);
    assert.equal(cfg.torch_dtype, 'bfloat16');
    const log = JSON.parse(readFileSync(join(sparse, 'train_log.json'), 'utf8')) as TrainLog;
    assert.deepEqual(log.stages.map((s) => [s.stage, s.steps]), [['pretrain', 24], ['indexer-warmup', 12], ['sparse', 6]]);

    // the engine loads the folder unchanged and, at 32 tokens with top-6, really selects
    const engine = DeepSeekModel.load(sparse);
    assert.deepEqual(engine.unused, []);
    assert.equal(engine.mtp.length, 1);
    const selected: number[] = [];
    const ids = [0, ...Array.from({ length: 31 }, (_, i) => 300 + i)];
    const { logits } = engine.forward(ids, 0, engine.newCache(), { logits: 'all', hooks: { onSelect: (_l, _p, s) => { if (s) selected.push(s.length); } } });
    assert.ok(logits.every(Number.isFinite));
    assert.ok(selected.length > 0 && selected.every((n) => n === 6));
  });

  it('deepseek_v3 checkpoints are converted for the DSA stages: indexer added, config rewritten, model unchanged', async () => {
    const v3raw = tinyConfigJson({ vocab_size: 8192, hidden_size: 32, max_position_embeddings: 256, num_nextn_predict_layers: 1, model_type: 'deepseek_v3', architectures: ['DeepseekV3ForCausalLM'] });
    for (const k of ['index_n_heads', 'index_head_dim', 'index_topk']) delete v3raw[k];
    const v3 = join(dir, 'v3');
    saveCheckpoint(v3, new ParamStore(parseConfig(v3raw)).initRandom(4));
    const out = join(dir, 'v3-warm');
    await trainStage(trainOptions('indexer-warmup', flags({ model: v3, data: dataFile, out, steps: '2', topk: '16', tokenizer: join(repoRoot, 'data/tokenizer') })));
    const cfg = parseConfig(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')));
    assert.equal(cfg.modelType, 'deepseek_v32');
    assert.deepEqual(cfg.indexer, { nHeads: 2, headDim: 128, topk: 16 });
    const a = Checkpoint.open(v3), b = Checkpoint.open(out);
    try {
      for (const name of a.names()) assert.equal(Buffer.compare(a.read(name).bytes, b.read(name).bytes), 0, `${name} unchanged`);
      assert.ok(b.has('model.layers.0.self_attn.indexer.wq_b.weight') && b.has('model.layers.2.self_attn.indexer.weights_proj.weight'));
    } finally { a.close(); b.close(); }
    assert.equal(DeepSeekModel.load(out).cfg.indexer?.topk, 16);
    const log = JSON.parse(readFileSync(join(out, 'train_log.json'), 'utf8')) as TrainLog;
    assert.match(log.stages[0]!.notes.join(' '), /converted deepseek_v3 → deepseek_v32/);
  });

  it('--max-minutes ends the stage on time and the LR schedule still decays to its minimum', async () => {
    const out = join(dir, 'timed');
    const r = await trainStage(trainOptions('pretrain', flags({ config: cfgFile, data: dataFile, out, steps: '100000', lr: '1e-3', minLr: '1e-4', warmup: '2', maxMinutes: '0.01' })));
    assert.equal(r.log.stopped_by, 'time');
    assert.ok(r.log.steps < 100000 && r.log.steps >= 1);
    assert.ok(r.log.wall_s >= 0.6 && r.log.wall_s < 5, `stopped after ${r.log.wall_s} s`);
    const last = r.log.records[r.log.records.length - 1]!;
    if (r.log.steps > 12) assert.ok(last.lr < 3e-4, `final lr ${last.lr} should be near min-lr`);
    assert.ok(existsSync(join(out, 'model.safetensors')));
  });

  it('bad input is refused before any work, naming the flag', () => {
    const bad = (stage: 'pretrain' | 'indexer-warmup' | 'sparse', o: Partial<TrainCliFlags>, re: RegExp) =>
      assert.throws(() => validateOptions(trainOptions(stage, flags({ data: dataFile, out: join(dir, 'x'), ...o }))), re);
    bad('pretrain', {}, /give one of --config FILE, --preset NAME or --model DIR/);
    bad('pretrain', { preset: 'tiny', config: cfgFile }, /only one of --config, --preset, --model/);
    bad('indexer-warmup', { preset: 'tiny' }, /indexer-warmup trains an existing model: give --model DIR/);
    bad('pretrain', { preset: 'tiny', seq: '1' }, /--seq: must be an integer ≥ 2/);
    bad('pretrain', { preset: 'tiny', batch: '0' }, /--batch: must be an integer ≥ 1/);
    bad('pretrain', { preset: 'tiny', lr: '-1' }, /--lr: must be a positive number/);
    bad('pretrain', { preset: 'tiny', data: join(dir, 'missing.txt') }, /--data: .*missing\.txt does not exist/);
    bad('sparse', { model: join(dir, 'nowhere') }, /--model: .*nowhere has no config.json/);
    assert.throws(() => trainOptions('pretrain', flags({ preset: 'tiny', data: dataFile, out: 'x', steps: 'many' })), /--steps: "many" is not a non-negative integer/);
    assert.throws(() => trainOptions('pretrain', flags({ preset: 'tiny', data: dataFile, out: 'x', dtype: 'fp8' })), /--dtype: must be f32 or bf16/);
    assert.throws(() => trainOptions('pretrain', flags({ preset: 'tiny', data: dataFile })), /--out: give the output folder/);
    bad('pretrain', { preset: 'tiny', maxMinutes: '0' }, /--max-minutes: must be a positive number/);
  });

  it('the CLI exits 1 with the message; an unknown preset and a vocabulary that does not fit are caught', () => {
    let r = cli(['train', 'sparse', '--preset', 'tiny', '--data', dataFile, '--out', join(dir, 'y')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /dsv32: sparse trains an existing model: give --model DIR/);
    r = cli(['train', 'pretrain', '--preset', 'huge', '--data', dataFile, '--out', join(dir, 'y'), '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--preset: unknown preset "huge"/);
    // the 'tiny' preset has 64 ids; our tokenizer has 8192
    r = cli(['train', 'pretrain', '--preset', 'tiny', '--seq', '32', '--data', dataFile, '--out', join(dir, 'y'), '--quiet']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--tokenizer: its 8192 ids do not fit the model's vocab_size 64/);
    assert.ok(!existsSync(join(dir, 'y')), 'nothing written on error');
  });
});
