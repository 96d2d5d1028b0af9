// The server driven by the real `openai` npm client, as code written for DeepSeek's API would drive it:
// plain and streamed chat, thinking (body field and model alias), tools and tool_choice, JSON output,
// logprobs, prefix and FIM completion, usage with real context-cache hits, and error statuses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI, { APIError } from 'openai';
import { startTestServer, type TestServer } from './testing.js';

let server: TestServer;
let client: OpenAI;
const KEY = 'sk-test-0123456789';

before(async () => {
  server = await startTestServer({ apiKeys: [KEY] });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 20_000 });
});
after(async () => { await server.close(); });

const user = (content: string) => [{ role: 'user' as const, content }];
const noParams = { type: 'object', properties: {} };
const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

function checkUsage(u: OpenAI.CompletionUsage | undefined | null) {
  assert.ok(u);
  const x = u as OpenAI.CompletionUsage & { prompt_cache_hit_tokens: number; prompt_cache_miss_tokens: number };
  assert.equal(x.prompt_cache_hit_tokens + x.prompt_cache_miss_tokens, u.prompt_tokens);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_tokens_details?.cached_tokens, x.prompt_cache_hit_tokens);
  return x;
}

describe('openai client', () => {
  it('lists the model and the DeepSeek aliases', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['dsv32-synthetic', 'deepseek-chat', 'deepseek-reasoner']);
  });

  it('plain chat completion: message, finish_reason, usage', async () => {
    const r = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Hello!'), max_tokens: 12, temperature: 0 });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'deepseek-chat');
    assert.match(r.id, /^chatcmpl-/);
    const c = r.choices[0]!;
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(['stop', 'length'].includes(c.finish_reason));
    const u = checkUsage(r.usage);
    if (c.finish_reason === 'length') assert.equal(u.completion_tokens, 12);
    assert.equal(u.completion_tokens_details?.reasoning_tokens, 0);
    // greedy decoding is deterministic
    const again = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Hello!'), max_tokens: 12, temperature: 0 });
    assert.equal(again.choices[0]!.message.content, c.message.content);
  });

  it('streams content deltas, a finish chunk and the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'deepseek-chat', messages: user('Tell me a story.'), max_tokens: 10, stream: true, stream_options: { include_usage: true }, seed: 3,
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let first = true;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) { usage = chunk.usage; assert.equal(chunk.choices.length, 0); continue; }
      if (first) { assert.equal(chunk.choices[0]!.delta.role, 'assistant'); first = false; }
      text += chunk.choices[0]!.delta.content ?? '';
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    assert.ok(finish === 'length' || finish === 'stop');
    const u = checkUsage(usage);
    if (finish === 'length') assert.equal(u.completion_tokens, 10);
    assert.ok(text.length > 0);
  });

  it('thinking mode via the body field and via deepseek-reasoner: reasoning_content and reasoning tokens', async () => {
    const a = await client.chat.completions.create({
      model: 'deepseek-chat', messages: user('Why is the sky blue?'), max_tokens: 8, thinking: { type: 'enabled' },
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const msg = a.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(typeof msg.reasoning_content, 'string');
    const u = checkUsage(a.usage);
    assert.ok(u.completion_tokens_details!.reasoning_tokens! > 0, 'the output starts inside <think>');
    assert.ok(u.completion_tokens_details!.reasoning_tokens! <= u.completion_tokens);

    const stream = await client.chat.completions.create({ model: 'deepseek-reasoner', messages: user('Why?'), max_tokens: 8, stream: true });
    let reasoning = '';
    for await (const chunk of stream) {
      reasoning += (chunk.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
    }
    assert.ok(reasoning.length > 0);

    // thinking: disabled overrides the reasoner alias
    const off = await client.chat.completions.create({
      model: 'deepseek-reasoner', messages: user('Why?'), max_tokens: 4, thinking: { type: 'disabled' },
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(checkUsage(off.usage).completion_tokens_details!.reasoning_tokens, 0);
  });

  it('a named tool_choice returns that tool call (finish_reason tool_calls), streamed and not', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_time', description: 'current time', parameters: noParams } },
      { type: 'function', function: { name: 'get_weather', parameters: weather } },
    ];
    const r = await client.chat.completions.create({
      model: 'deepseek-chat', messages: user('What time is it?'), tools, tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const c = r.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls');
    const call = c.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_time');
    assert.deepEqual(JSON.parse(call.function.arguments), {});
    assert.match(call.id, /^call_/);
    checkUsage(r.usage);

    const stream = await client.chat.completions.create({
      model: 'deepseek-chat', messages: user('Time?'), tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, stream: true,
    });
    const calls: { id?: string; name?: string; args: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        calls[tc.index] ??= { args: '' };
        if (tc.id) calls[tc.index]!.id = tc.id;
        if (tc.function?.name) calls[tc.index]!.name = tc.function.name;
        calls[tc.index]!.args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, 'get_time');

    // the tool result goes back and the conversation continues
    const next = await client.chat.completions.create({
      model: 'deepseek-chat', max_tokens: 6, tools,
      messages: [...user('What time is it?'), c.message, { role: 'tool', tool_call_id: call.id, content: '12:00' }],
    });
    assert.equal(typeof next.choices[0]!.message.content, 'string');
  });

  it('thinking mode with a named tool: reasoning first, then the forced call', async () => {
    // a model whose </think> row is scaled up ends its (random) reasoning within a few tokens
    const thinker = await startTestServer({ scaleHeadRows: { [server.served.special.thinkEnd!]: 8 } });
    try {
      const c2 = new OpenAI({ baseURL: `${thinker.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const body = {
        model: 'deepseek-reasoner', messages: user('Time?'), max_tokens: 200, seed: 1,
        tools: [{ type: 'function' as const, function: { name: 'get_time', parameters: noParams } }], tool_choice: { type: 'function' as const, function: { name: 'get_time' } },
      };
      const r = await c2.chat.completions.create(body);
      const c = r.choices[0]!;
      const u = checkUsage(r.usage);
      assert.equal(c.finish_reason, 'tool_calls');
      assert.equal((c.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, 'get_time');
      assert.equal(typeof (c.message as { reasoning_content?: string }).reasoning_content, 'string');
      assert.ok(u.completion_tokens_details!.reasoning_tokens! >= 1);
      assert.ok(u.completion_tokens > u.completion_tokens_details!.reasoning_tokens!, 'the forced call counts as output');

      // and with a parameter the model must write: the answer starts with the invoke of that function
      const w = await c2.chat.completions.create({
        ...body, tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }], tool_choice: { type: 'function', function: { name: 'get_weather' } },
      });
      const wc = w.choices[0]!;
      if (!wc.message.tool_calls) assert.ok(wc.message.content!.startsWith('\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n'), JSON.stringify(wc.message.content));
      checkUsage(w.usage);
    } finally {
      await thinker.close();
    }
  });

  it('tool_choice required makes the answer start with the function-call block; none never calls', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: weather } }];
    const r = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Weather in Paris?'), tools, tool_choice: 'required', max_tokens: 6, temperature: 0 });
    const c = r.choices[0]!;
    // a random model cannot finish the call, so it comes back as (malformed) text that starts with the forced block
    if (!c.message.tool_calls?.length) assert.ok(c.message.content!.startsWith('\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="'), JSON.stringify(c.message.content));
    const none = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Weather?'), tools, tool_choice: 'none', max_tokens: 6 });
    assert.equal(none.choices[0]!.message.tool_calls, undefined);
    await assert.rejects(
      client.chat.completions.create({ model: 'deepseek-chat', messages: user('x'), tools, tool_choice: { type: 'function', function: { name: 'nope' } } }),
      (e: APIError) => e.status === 422 && (e.error as { param?: string }).param === 'tool_choice',
    );
  });

  it('a repeated prompt of over 64 tokens reports context-cache hits', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog.`).join('\n');
    const first = await client.chat.completions.create({ model: 'deepseek-chat', messages: user(long), max_tokens: 2 });
    const u1 = checkUsage(first.usage);
    assert.ok(u1.prompt_tokens >= 128);
    const second = await client.chat.completions.create({ model: 'deepseek-chat', messages: user(long), max_tokens: 2 });
    const u2 = checkUsage(second.usage);
    assert.equal(u2.prompt_tokens, u1.prompt_tokens);
    assert.ok(u2.prompt_cache_hit_tokens >= 64, `hits: ${u2.prompt_cache_hit_tokens}`);
    assert.equal(u2.prompt_cache_hit_tokens % 64, 0, 'the cache works in 64-token units');
  });

  it('response_format json_object gives a JSON object; logprobs come per token', async () => {
    const r = await client.chat.completions.create({
      model: 'deepseek-chat', messages: user('Reply in json: {"a": 1}'), response_format: { type: 'json_object' }, max_tokens: 24, seed: 5,
    });
    const obj = JSON.parse(r.choices[0]!.message.content!);
    assert.equal(typeof obj, 'object');
    assert.ok(!Array.isArray(obj));

    const lp = await client.chat.completions.create({ model: 'deepseek-chat', messages: user('Hi'), max_tokens: 5, logprobs: true, top_logprobs: 3, temperature: 0 });
    const entries = lp.choices[0]!.logprobs!.content!;
    assert.equal(entries.length, lp.usage!.completion_tokens);
    for (const e of entries) {
      assert.ok(e.logprob <= 0);
      assert.equal(e.top_logprobs.length, 3);
      assert.ok(e.top_logprobs[0]!.logprob >= e.logprob - 1e-9, 'greedy picks the most likely token');
      assert.deepEqual(Buffer.from(e.bytes!).toString('utf8').length > 0, true);
    }
    assert.equal(entries.map((e) => e.token).join(''), lp.choices[0]!.message.content);
    await assert.rejects(
      client.chat.completions.create({ model: 'deepseek-reasoner', messages: user('Hi'), logprobs: true }),
      (e: APIError) => e.status === 422 && (e.error as { param?: string }).param === 'logprobs',
    );
  });

  it('response_format json_schema is enforced while decoding; an unsupported schema is a 422', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, rank: { type: 'integer' } }, required: ['city', 'rank'], additionalProperties: false };
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({
        model: 'deepseek-chat', messages: user('Name a city as json'), max_tokens: 20, seed,
        response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
      });
      const obj = JSON.parse(r.choices[0]!.message.content!) as Record<string, unknown>;
      assert.equal(typeof obj.city, 'string');
      assert.ok(Number.isInteger(obj.rank));
      assert.deepEqual(Object.keys(obj).sort(), ['city', 'rank']);
    }
    await assert.rejects(
      client.chat.completions.create({
        model: 'deepseek-chat', messages: user('x'),
        response_format: { type: 'json_schema', json_schema: { name: 'u', schema: { anyOf: [{ type: 'string' }] } } },
      }),
      (e: APIError) => e.status === 422 && (e.error as { param?: string }).param === 'response_format.json_schema.schema',
    );
  });

  it('chat prefix completion continues the assistant prefix', async () => {
    const r = await client.chat.completions.create({
      model: 'deepseek-chat', max_tokens: 6, stop: ['```'],
      messages: [...user('Write quicksort in Python'), { role: 'assistant', content: '```python\n', prefix: true } as OpenAI.ChatCompletionAssistantMessageParam],
    });
    assert.equal(typeof r.choices[0]!.message.content, 'string');
    assert.ok(!r.choices[0]!.message.content!.includes('```'));
  });

  it('FIM completion on the beta base URL, with echo and logprobs', async () => {
    const beta = new OpenAI({ baseURL: `${server.url}/beta`, apiKey: KEY, maxRetries: 0 });
    const r = await beta.completions.create({ model: 'deepseek-chat', prompt: 'def fib(a):', suffix: '    return fib(a-1) + fib(a-2)', max_tokens: 6, logprobs: 2, echo: true });
    assert.equal(r.object, 'text_completion');
    const c = r.choices[0]!;
    assert.ok(c.text.startsWith('def fib(a):'));
    assert.equal(c.logprobs!.tokens!.length, r.usage!.completion_tokens);
    assert.equal(c.logprobs!.text_offset![0], 'def fib(a):'.length);
    const stream = await beta.completions.create({ model: 'deepseek-chat', prompt: 'int main(', max_tokens: 4, stream: true, stream_options: { include_usage: true } });
    let n = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) { if (chunk.usage) usage = chunk.usage; n++; }
    assert.ok(n >= 2);
    assert.equal(usage!.total_tokens, usage!.prompt_tokens + usage!.completion_tokens);
  });

  it('errors: 401 bad key, 400 unknown model, 422 bad parameter', async () => {
    const bad = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'deepseek-chat', messages: user('x') }), (e: APIError) => e.status === 401);
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: user('x') }), (e: APIError) => e.status === 400 && (e.error as { param?: string }).param === 'model');
    await assert.rejects(client.chat.completions.create({ model: 'deepseek-chat', messages: user('x'), top_p: 3 }), (e: APIError) => e.status === 422 && (e.error as { param?: string }).param === 'top_p');
    await assert.rejects(client.chat.completions.create({ model: 'deepseek-chat', messages: user('x'), max_tokens: 100_000 }), (e: APIError) => e.status === 422);
  });
});
