// Getting a generation's output to the client: SSE (with `: keep-alive` comments while nothing else has
// been sent for a while, e.g. in the queue) or one JSON body (preceded by blank lines once it takes
// long, as DeepSeek does, so proxies and clients keep the connection). A client that goes away aborts
// the request, which frees its engine slot at the next step.
import type { FastifyReply } from 'fastify';
import { ApiError, toApiError } from './errors.js';
import { EngineBusyError } from '../engine/engine.js';

/** Aborts `ctl` when the connection closes before the response was finished. */
export function abortOnDisconnect(reply: FastifyReply, ctl: AbortController): void {
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) ctl.abort();
  });
}

/** Errors the engine throws when it is handed a request. */
export function engineRefusal(e: unknown): ApiError {
  if (e instanceof EngineBusyError) return new ApiError(429, `Rate Limit Reached: ${e.message}; retry shortly`);
  if (e instanceof RangeError) return new ApiError(400, e.message, 'messages');
  return toApiError(e);
}

export type Send = (obj: unknown) => void;

/** Streams `produce`'s objects as SSE `data:` lines, then `data: [DONE]`. */
export async function sendSse(reply: FastifyReply, keepAliveMs: number, produce: (send: Send) => Promise<void>): Promise<FastifyReply> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.flushHeaders();
  let last = Date.now();
  const write = (s: string) => {
    if (raw.destroyed || raw.writableEnded) return;
    raw.write(s);
    last = Date.now();
  };
  const timer = setInterval(() => {
    if (Date.now() - last >= keepAliveMs) write(': keep-alive\n\n');
  }, Math.max(5, Math.floor(keepAliveMs / 2)));
  try {
    await produce((obj) => write(`data: ${JSON.stringify(obj)}\n\n`));
    write('data: [DONE]\n\n');
  } catch (e) {
    write(`data: ${JSON.stringify(toApiError(e).body)}\n\n`);
  } finally {
    clearInterval(timer);
    if (!raw.writableEnded) raw.end();
  }
  return reply;
}

/** Sends `produce`'s result as JSON; if it takes longer than keepAliveMs, commits to 200 and sends blank lines meanwhile. */
export async function sendJson(reply: FastifyReply, keepAliveMs: number, produce: () => Promise<unknown>): Promise<unknown> {
  let started = false;
  const raw = reply.raw;
  const timer = setInterval(() => {
    if (raw.destroyed || raw.writableEnded) return;
    if (!started) {
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
      started = true;
    }
    raw.write('\n');
  }, keepAliveMs);
  let body: unknown;
  try {
    body = await produce();
  } catch (e) {
    if (!started) throw e;
    body = toApiError(e).body;
  } finally {
    clearInterval(timer);
  }
  if (!started) return body;
  if (!raw.writableEnded) raw.end(JSON.stringify(body));
  return reply;
}
