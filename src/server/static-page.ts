// The chat page: index.html, chat.js and chat.css from src/server/static, read once and served from
// memory with a strict content security policy (no CDN, no inline script).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

// two levels below the package root both as src/server/*.ts and as dist/server/*.js
const STATIC_DIR = fileURLToPath(new URL('../../src/server/static/', import.meta.url));

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/chat.js': ['chat.js', 'text/javascript; charset=utf-8'],
  '/chat.css': ['chat.css', 'text/css; charset=utf-8'],
};

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerStaticPage(app: FastifyInstance, dir = STATIC_DIR): void {
  const cache = new Map<string, Buffer>();
  for (const [route, [file, type]] of Object.entries(FILES)) {
    app.get(route, async (_req, reply) => {
      let body = cache.get(file);
      if (!body) { body = readFileSync(dir + file); cache.set(file, body); }
      return reply
        .header('content-type', type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(body);
    });
  }
}
