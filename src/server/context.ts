// What route handlers share: the models and the delivery settings.
import type { ModelRegistry } from './model-registry.js';

export interface AppContext {
  registry: ModelRegistry;
  /** quiet time after which a waiting response gets a keep-alive (SSE comment or blank line) */
  keepAliveMs: number;
}
