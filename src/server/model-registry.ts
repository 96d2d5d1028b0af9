// Which served model a request's `model` names. Every model answers to its own id; `deepseek-chat`
// (thinking off) and `deepseek-reasoner` (thinking on) are aliases of the default (first) model so code
// written for DeepSeek's API runs unchanged.
import { badRequest } from './errors.js';
import type { ServedModel } from './served-model.js';

export const ALIASES: Readonly<Record<string, boolean>> = { 'deepseek-chat': false, 'deepseek-reasoner': true };

export interface ResolvedModel {
  model: ServedModel;
  /** thinking mode implied by the name (the request's `thinking` field overrides it) */
  thinking: boolean;
}

export class ModelRegistry {
  constructor(readonly models: readonly ServedModel[]) {
    if (!models.length) throw new Error('no model to serve');
  }

  get default(): ServedModel {
    return this.models[0]!;
  }

  /** Ids listed by GET /models: the models, then the aliases. */
  get ids(): { id: string; created: number }[] {
    const own = this.models.map((m) => ({ id: m.id, created: m.created }));
    const aliases = Object.keys(ALIASES).filter((a) => !this.models.some((m) => m.id === a)).map((id) => ({ id, created: this.default.created }));
    return [...own, ...aliases];
  }

  resolve(name: string): ResolvedModel {
    const own = this.models.find((m) => m.id === name);
    if (own) return { model: own, thinking: false };
    if (name in ALIASES) return { model: this.default, thinking: ALIASES[name]! };
    throw badRequest(`Model Not Exist: ${JSON.stringify(name.slice(0, 100))} (GET /models lists the ids)`, 'model', 'model_not_found');
  }
}
