// The trainable model's named tensors: exactly the Hugging Face names and [out,in] shapes of the
// manifest the inference engine loads (spec §10), minus the MTP layer's duplicated embedding/head,
// which training shares with the main model and the checkpoint writer re-materialises.
import type { ModelConfig } from '../model/config.js';
import { mainTensors, mtpTensors, type TensorSpec } from '../model/manifest.js';
import { Tensor } from './autograd/tensor.js';
import { Rng } from './random.js';

export type TrainMode = 'pretrain' | 'indexer-warmup' | 'sparse';

export class ParamStore {
  readonly byName = new Map<string, Tensor>();
  readonly specs: TensorSpec[];

  constructor(readonly cfg: ModelConfig) {
    if (cfg.numMtpLayers > 1) throw new Error(`training supports at most one MTP layer (config has ${cfg.numMtpLayers})`);
    if (cfg.scoringFunc !== 'sigmoid' && cfg.nRoutedExperts) throw new Error('training supports the sigmoid router (DeepSeek-V3/V3.2) only');
    this.specs = [...mainTensors(cfg), ...(cfg.numMtpLayers ? mtpTensors(cfg, 0, false) : [])];
    for (const s of this.specs) this.byName.set(s.name, new Tensor(new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape.slice(), false, s.name));
  }

  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no parameter "${name}"`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The output head (the embedding when tie_word_embeddings). */
  head(): Tensor {
    return this.cfg.tieWordEmbeddings ? this.get('model.embed_tokens.weight') : this.get('lm_head.weight');
  }

  /**
   * Random init: norms 1, biases 0, matrices N(0, 1/fan_in) with residual-branch outputs (o_proj,
   * down_proj) further scaled by 1/√(2·layers), embedding N(0, 1).
   */
  initRandom(seed: number): this {
    const rng = new Rng(seed);
    const depth = this.cfg.numLayers + this.cfg.numMtpLayers;
    for (const s of this.specs) {
      const t = this.get(s.name);
      if (s.role === 'gate_bias' || s.name.endsWith('.bias')) t.data.fill(0);
      else if (s.shape.length === 1) t.data.fill(1);
      else if (s.role === 'embed') rng.fillNormal(t.data, 1);
      else {
        const residualOut = /(o_proj|down_proj)\.weight$/.test(s.name);
        rng.fillNormal(t.data, s.shape[1]! ** -0.5 * (residualOut ? (2 * depth) ** -0.5 : 1));
      }
    }
    return this;
  }

  /** Which tensors a stage trains (spec §14). The router bias is never a gradient parameter. */
  isTrainable(name: string, mode: TrainMode): boolean {
    if (name.endsWith('e_score_correction_bias')) return false;
    const indexer = name.includes('.self_attn.indexer.');
    if (mode === 'indexer-warmup') return indexer;
    if (mode === 'pretrain') return !indexer; // attention is dense: the indexer is not run
    return true;
  }

  /** Sets requiresGrad for a stage and returns the trainable tensors with their weight-decay flag. */
  setMode(mode: TrainMode): { tensor: Tensor; decay: boolean }[] {
    const out: { tensor: Tensor; decay: boolean }[] = [];
    for (const [name, t] of this.byName) {
      t.requiresGrad = this.isTrainable(name, mode);
      t.grad = null;
      if (t.requiresGrad) out.push({ tensor: t, decay: t.shape.length >= 2 && !name.includes('embed_tokens') });
    }
    return out;
  }

  count(): number {
    let n = 0;
    for (const t of this.byName.values()) n += t.size;
    return n;
  }
}
