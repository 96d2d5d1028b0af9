// Request bodies are parsed twice when it matters: by fastify's safe JSON parser (prototype-poisoning
// checks; what is validated), and, for the parts rendered into the prompt (tool schemas, a response
// schema), by the Python-compatible parser, which keeps 1.0 as 1.0 and keys in their written order,
// so the prompt is byte-for-byte what the reference encoder makes of the same request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { pyJsonLoads } from '../encoding/index.js';

const RAW = Symbol('rawJsonBody');
type WithRaw = FastifyRequest & { [RAW]?: string };

export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('text/plain'); // the API speaks JSON only: anything else is a 415
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    (req as WithRaw)[RAW] = body as string;
    parse(req, body as string, done);
  });
}

/** Top-level fields of the body as the Python-compatible parser reads them (empty when it cannot). */
export function pythonFields(req: FastifyRequest): Record<string, unknown> {
  const raw = (req as WithRaw)[RAW];
  if (typeof raw !== 'string') return {};
  try {
    const v = pyJsonLoads(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
