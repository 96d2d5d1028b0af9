// POST /chat/completions: validate → plan (prompt, sampling, forcing) → queue on the engine → stream SSE
// chunks or send one completion.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from './context.js';
import { planChat } from './chat-plan.js';
import { ChatChunker, ChatCompletionBuilder, responseMeta } from './chat-response.js';
import { ChatRun } from './chat-run.js';
import { abortOnDisconnect, engineRefusal, sendJson, sendSse } from './delivery.js';
import { pythonFields } from './raw-json.js';
import { chatRequestSchema, parseBody } from './schemas.js';

export function chatCompletions(ctx: AppContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const body = parseBody(chatRequestSchema, req.body);
    const { model, thinking } = ctx.registry.resolve(body.model);
    const plan = planChat(body, model, thinking, body.tools || body.response_format ? pythonFields(req) : {});
    const ctl = new AbortController();
    abortOnDisconnect(reply, ctl);
    let run: ChatRun;
    try {
      run = new ChatRun(plan, ctl.signal);
    } catch (e) {
      throw engineRefusal(e);
    }
    const meta = responseMeta(plan.modelName, model.fingerprint);
    const logFailure = () => {
      if (run.outcome?.error) req.log.error({ err: run.outcome.error }, 'generation failed');
    };
    if (plan.stream) {
      const chunker = new ChatChunker(meta, { thinking: plan.thinking, includeUsage: plan.includeUsage });
      return sendSse(reply, ctx.keepAliveMs, async (send) => {
        let started = false;
        for await (const ev of run) {
          if (!started) { send(chunker.role()); started = true; }
          send(chunker.delta(ev));
        }
        const outcome = run.outcome!;
        logFailure();
        if (outcome.finishReason === 'abort') return; // the client is gone
        if (!started) send(chunker.role());
        send(chunker.finish(outcome));
        if (plan.includeUsage) send(chunker.usage(outcome));
      });
    }
    return sendJson(reply, ctx.keepAliveMs, async () => {
      const builder = new ChatCompletionBuilder(meta, { thinking: plan.thinking, logprobs: plan.gen.logprobs !== undefined });
      for await (const ev of run) builder.add(ev);
      logFailure();
      return builder.build(run.outcome!);
    });
  };
}
