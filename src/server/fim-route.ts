// POST /beta/completions (FIM): text_completion objects, streamed or whole.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from './context.js';
import { responseMeta } from './chat-response.js';
import { abortOnDisconnect, engineRefusal, sendJson, sendSse } from './delivery.js';
import { FimRun, planFim, type FimOutcome } from './fim.js';
import { completionLogprobs, type LogprobEntry } from './logprobs.js';
import { fimRequestSchema, parseBody } from './schemas.js';
import { apiUsage } from './usage.js';

const finishOf = (o: FimOutcome) => (o.finishReason === 'abort' ? 'stop' : o.finishReason);

export function fimCompletions(ctx: AppContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const body = parseBody(fimRequestSchema, req.body);
    const { model, thinking } = ctx.registry.resolve(body.model);
    const plan = planFim(body, model, thinking);
    const ctl = new AbortController();
    abortOnDisconnect(reply, ctl);
    let run: FimRun;
    try {
      run = new FimRun(plan, ctl.signal);
    } catch (e) {
      throw engineRefusal(e);
    }
    const meta = responseMeta(plan.modelName, model.fingerprint, 'cmpl');
    const base = { ...meta, object: 'text_completion' as const };
    const echo = plan.echo ?? '';
    if (plan.stream) {
      return sendSse(reply, ctx.keepAliveMs, async (send) => {
        let offset = 0;
        const choice = (text: string, lps: LogprobEntry[] | null, finish: string | null) => {
          const logprobs = plan.logprobs !== null && lps ? completionLogprobs(lps, offset) : null;
          offset += text.length;
          return { ...base, choices: [{ text, index: 0, logprobs, finish_reason: finish }] };
        };
        if (echo) send(choice(echo, [], null));
        for await (const p of run) send(choice(p.text, p.logprobs, null));
        const o = run.outcome!;
        if (o.error) req.log.error({ err: o.error }, 'generation failed');
        if (o.finishReason === 'abort') return;
        send(choice('', null, finishOf(o)));
        if (plan.includeUsage) send({ ...base, choices: [], usage: apiUsage(o.counts) });
      });
    }
    return sendJson(reply, ctx.keepAliveMs, async () => {
      let text = '';
      const lps: LogprobEntry[] = [];
      for await (const p of run) { text += p.text; lps.push(...p.logprobs); }
      const o = run.outcome!;
      if (o.error) req.log.error({ err: o.error }, 'generation failed');
      const logprobs = plan.logprobs !== null ? completionLogprobs(lps, echo.length) : null;
      return { ...base, choices: [{ text: echo + text, index: 0, logprobs, finish_reason: finishOf(o) }], usage: apiUsage(o.counts) };
    });
  };
}
