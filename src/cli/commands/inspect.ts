// dsv32 inspect: a model folder in words — config, tensors and bytes by dtype, parameter counts
// (works from config.json alone), cache bytes per token.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DTYPE_BYTES } from '../../formats/dtype.js';
import { Checkpoint } from '../../formats/checkpoint.js';
import { numel } from '../../formats/safetensors.js';
import { isMoeLayer, loadConfig, type ModelConfig } from '../../model/config.js';
import { countParams, kvBytesPerToken } from '../../model/manifest.js';
import { mlaSoftmaxScale } from '../../model/rope.js';

export interface InspectReport {
  modelType: string;
  params: ReturnType<typeof countParams> & { activatedCompute: number };
  kvBytesPerToken: ReturnType<typeof kvBytesPerToken>;
  checkpoint: null | { tensors: number; bytesByDtype: Record<string, number>; storedParams: number };
}

export function inspectModel(dir: string): { cfg: ModelConfig; report: InspectReport } {
  const cfg = loadConfig(dir);
  const p = countParams(cfg);
  const isDir = existsSync(dir) && statSync(dir).isDirectory();
  const hasWeights = isDir && readdirSync(dir).some((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json');
  let checkpoint: InspectReport['checkpoint'] = null;
  if (hasWeights) {
    const ck = Checkpoint.open(dir);
    const bytesByDtype: Record<string, number> = {};
    let storedParams = 0;
    for (const t of ck.infos()) {
      bytesByDtype[t.dtype] = (bytesByDtype[t.dtype] ?? 0) + numel(t.shape) * DTYPE_BYTES[t.dtype];
      if (!t.name.endsWith('weight_scale_inv')) storedParams += numel(t.shape);
    }
    checkpoint = { tensors: ck.infos().length, bytesByDtype, storedParams };
    ck.close();
  }
  return {
    cfg,
    report: {
      modelType: cfg.modelType,
      params: { ...p, activatedCompute: p.activated - cfg.vocabSize * cfg.hiddenSize },
      kvBytesPerToken: kvBytesPerToken(cfg),
      checkpoint,
    },
  };
}

const B = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : `${n}`);
const bytes = (n: number) => (n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

export function describeModel(cfg: ModelConfig, r: InspectReport): string {
  const moeLayers = Array.from({ length: cfg.numLayers }, (_, l) => l).filter((l) => isMoeLayer(cfg, l)).length;
  const lines = [
    `model: ${cfg.modelType}${cfg.indexer ? ' (MLA + DeepSeek Sparse Attention)' : ' (MLA, dense attention)'}`,
    `layers: ${cfg.numLayers} (${cfg.numLayers - moeLayers} dense + ${moeLayers} MoE), hidden ${cfg.hiddenSize}, vocab ${cfg.vocabSize}`,
    `attention: MLA, ${cfg.numHeads} heads, q_lora ${cfg.qLoraRank ?? 'none (direct q projection)'}, kv_lora ${cfg.kvLoraRank}, qk ${cfg.qkNopeHeadDim}+${cfg.qkRopeHeadDim} (nope+rope), v ${cfg.vHeadDim}, softmax scale ${mlaSoftmaxScale(cfg).toFixed(6)}`,
    cfg.indexer
      ? `indexer: ${cfg.indexer.nHeads} heads × ${cfg.indexer.headDim}, top-k ${cfg.indexer.topk} (dense attention up to ${cfg.indexer.topk} tokens)`
      : 'indexer: none (dense attention)',
    cfg.nRoutedExperts
      ? `MoE: ${cfg.nRoutedExperts} routed experts in ${cfg.nGroup} groups (top-${cfg.topkGroup} groups), ${cfg.expertsPerToken} per token, ${cfg.nSharedExperts} shared, inner ${cfg.moeIntermediateSize}, ${cfg.scoringFunc} router, scale ${cfg.routedScalingFactor}; dense FFN inner ${cfg.intermediateSize}`
      : `FFN: dense, inner ${cfg.intermediateSize}`,
    `RoPE: theta ${cfg.ropeTheta}${cfg.ropeScaling ? `, YaRN ×${cfg.ropeScaling.factor} from ${cfg.ropeScaling.originalMaxPositions}` : ''}, max positions ${cfg.maxPositions}`,
    `weights: ${cfg.quant ? `FP8 e4m3, 128×128 block scales${cfg.quant.scaleFmt ? ` (${cfg.quant.scaleFmt})` : ''}, activations quantised ${cfg.quant.activationQuant ? 'dynamically per 128' : 'no'}` : cfg.torchDtype}`,
    `MTP layers: ${cfg.numMtpLayers}`,
    '',
    `parameters (main model): ${B(r.params.total)} total; ${B(r.params.activatedCompute)} activated per token (+${B(cfg.vocabSize * cfg.hiddenSize)} embedding lookup); indexers ${B(r.params.indexer)}`,
    cfg.numMtpLayers ? `parameters (MTP, apart): ${B(r.params.mtp)} (+${B(r.params.mtpDuplicates)} duplicated embedding/head)` : 'parameters (MTP): none',
    `cache per token: ${r.kvBytesPerToken.perLayer.mla} B MLA latent${r.kvBytesPerToken.perLayer.indexer ? ` + ${r.kvBytesPerToken.perLayer.indexer} B indexer keys` : ''} per layer × ${cfg.numLayers} = ${bytes(r.kvBytesPerToken.total)}`,
  ];
  if (r.checkpoint) {
    const c = r.checkpoint;
    const by = Object.entries(c.bytesByDtype).sort((a, b) => b[1] - a[1]).map(([d, n]) => `${d} ${bytes(n)}`).join(', ');
    lines.push(`checkpoint: ${c.tensors} tensors, ${B(c.storedParams)} stored parameters; bytes by dtype: ${by}`);
  } else {
    lines.push('checkpoint: none (config only)');
  }
  return lines.join('\n');
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('describe a model folder: config, tensors by dtype, parameter counts, cache bytes per token')
    .argument('<dir>', 'model folder (config.json, optionally with safetensors) or a config.json file')
    .option('--json', 'print the figures as JSON')
    .action((dir: string, o: { json?: boolean }) => {
      const { cfg, report } = inspectModel(dir);
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(describeModel(cfg, report) + '\n');
    });
}
