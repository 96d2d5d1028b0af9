// The HTTP server: DeepSeek/OpenAI-compatible routes (with and without /v1, beta ones under /beta too),
// API-key auth, DeepSeek status codes with OpenAI-style error bodies, and the chat page at /.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ApiKeys } from './auth.js';
import { chatCompletions } from './chat-route.js';
import type { AppContext } from './context.js';
import { ApiError, toApiError } from './errors.js';
import { fimCompletions } from './fim-route.js';
import { ModelRegistry } from './model-registry.js';
import type { ServedModel } from './served-model.js';
import { registerJsonParser } from './raw-json.js';
import { registerStaticPage } from './static-page.js';

export interface AppOptions {
  models: ServedModel[];
  /** accepted `Authorization: Bearer` keys; none = open */
  apiKeys?: readonly string[];
  /** quiet time before a waiting response gets a keep-alive (default 5 s) */
  keepAliveMs?: number;
  /** largest request body in bytes (default 4 MiB); larger → 413 */
  bodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route needs an API key when keys are configured */
    auth?: boolean;
  }
}

const PREFIXES = ['', '/v1', '/beta'];

export function createApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 4 * 2 ** 20,
    forceCloseConnections: true,
    return503OnClosing: true,
  });
  const ctx: AppContext = { registry: new ModelRegistry(opts.models), keepAliveMs: opts.keepAliveMs ?? 5000 };
  const keys = new ApiKeys(opts.apiKeys ?? []);
  registerJsonParser(app);

  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.auth && !keys.check(req.headers.authorization)) {
      throw new ApiError(401, 'Authentication Fails: the API key is missing or invalid (send Authorization: Bearer <key>)');
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    void reply.code(e.status).header('content-type', 'application/json; charset=utf-8').send(e.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const what = `${req.method} ${req.url}`.slice(0, 200);
    void reply.code(404).send(new ApiError(404, `no such route: ${what}`).body);
  });

  const auth = { auth: true };
  const chat = chatCompletions(ctx);
  for (const p of PREFIXES) app.post(`${p}/chat/completions`, { config: auth }, chat);
  const fim = fimCompletions(ctx);
  for (const p of ['/beta', '/v1/beta', '', '/v1']) app.post(`${p}/completions`, { config: auth }, fim);

  const modelObject = (m: { id: string; created: number }) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'deepseek' });
  for (const p of PREFIXES) {
    app.get(`${p}/models`, { config: auth }, async () => ({ object: 'list', data: ctx.registry.ids.map(modelObject) }));
    app.get<{ Params: { id: string } }>(`${p}/models/:id`, { config: auth }, async (req) => {
      const m = ctx.registry.ids.find((x) => x.id === req.params.id);
      if (!m) throw new ApiError(404, `Model Not Exist: ${JSON.stringify(req.params.id.slice(0, 100))}`, 'model', 'model_not_found');
      return modelObject(m);
    });
  }
  for (const p of ['', '/v1']) {
    // a local server has no billing; clients that check the balance first see an available account
    app.get(`${p}/user/balance`, { config: auth }, async () => ({ is_available: true, balance_infos: [] }));
  }
  app.get('/health', async () => {
    const m = ctx.registry.default;
    return { status: 'ok', model: m.id, ...m.engine.load };
  });
  registerStaticPage(app);
  return app;
}
