// One optimisation step of a training stage: forward → backward → global-norm clip → AdamW with the
// scheduled LR → DeepSeek's aux-loss-free balancing (each MoE layer's e_score_correction_bias moves by
// ±γ toward uniform load; a buffer, not a gradient parameter) → gradients cleared.
import { backward, type Tensor } from './autograd/tensor.js';
import { DEFAULT_LOSS_WEIGHTS, type ForwardOutput, type LossWeights, type TrainModel } from './model.js';
import { AdamW } from './optim/adamw.js';
import { clipGradNorm } from './optim/clip.js';
import { learningRate, type LrSchedule } from './optim/schedule.js';
import type { TrainMode } from './params.js';

export interface TrainerOptions {
  mode: TrainMode;
  schedule: LrSchedule;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** global gradient-norm limit (0 = off) */
  clip?: number;
  losses?: Partial<LossWeights>;
  /** γ of the aux-loss-free bias update (DeepSeek-V3 used 0.001); 0 = off */
  biasUpdateRate?: number;
}

export interface StepStats {
  step: number;
  lr: number;
  loss: number;
  lm: number | null;
  mtp: number | null;
  balance: number | null;
  indexerKL: number | null;
  gradNorm: number;
  tokens: number;
  ms: number;
}

export class Trainer {
  readonly optimizer: AdamW;
  readonly trainable: Tensor[];
  readonly losses: LossWeights;
  step = 0;

  constructor(readonly model: TrainModel, readonly opts: TrainerOptions) {
    const params = model.params.setMode(opts.mode);
    this.trainable = params.map((p) => p.tensor);
    this.optimizer = new AdamW(params, { weightDecay: opts.weightDecay ?? 0.1, beta1: opts.beta1, beta2: opts.beta2 });
    this.losses = { ...DEFAULT_LOSS_WEIGHTS, ...opts.losses };
  }

  /** Forward and backward without updating (gradients are left on the parameters). */
  gradients(tokens: Int32Array, B: number, S: number): ForwardOutput {
    for (const p of this.trainable) p.grad = null;
    const out = this.model.forward(tokens, B, S, this.opts.mode, this.losses);
    backward(out.loss);
    return out;
  }

  trainStep(tokens: Int32Array, B: number, S: number): StepStats {
    const t0 = performance.now();
    const out = this.gradients(tokens, B, S);
    const gradNorm = clipGradNorm(this.trainable, this.opts.clip ?? 1);
    const lr = learningRate(this.opts.schedule, this.step);
    this.optimizer.update(lr);
    if (this.opts.mode !== 'indexer-warmup') this.updateRouterBias(out.loads);
    for (const p of this.trainable) p.grad = null;
    this.step++;
    return {
      step: this.step, lr, loss: out.loss.item(), lm: out.lm, mtp: out.mtp, balance: out.balance, indexerKL: out.indexerKL,
      gradNorm, tokens: B * S, ms: performance.now() - t0,
    };
  }

  /** bias_e += γ·sign(mean load − load_e): under-loaded experts become likelier to be selected. */
  updateRouterBias(loads: Map<number, Int32Array>): void {
    const g = this.opts.biasUpdateRate ?? 1e-3;
    if (!g) return;
    for (const [layer, load] of loads) {
      const bias = this.model.params.get(`model.layers.${layer}.mlp.gate.e_score_correction_bias`).data;
      let mean = 0;
      for (const v of load) mean += v;
      mean /= load.length;
      for (let e = 0; e < load.length; e++) bias[e] += g * Math.sign(mean - load[e]!);
    }
  }
}
