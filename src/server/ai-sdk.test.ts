// The server driven by the Vercel AI SDK's DeepSeek provider (`@ai-sdk/deepseek` + `ai`): generateText
// and streamText, thinking, tool calls and usage including cache reads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDeepSeek } from '@ai-sdk/deepseek';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { startTestServer, type TestServer } from './testing.js';

let server: TestServer;
let deepseek: ReturnType<typeof createDeepSeek>;

before(async () => {
  server = await startTestServer({ apiKeys: ['sk-ai-sdk'] });
  deepseek = createDeepSeek({ baseURL: `${server.url}/v1`, apiKey: 'sk-ai-sdk' });
});
after(async () => { await server.close(); });

describe('ai sdk (@ai-sdk/deepseek)', () => {
  it('generateText: text, finish reason and usage that adds up', async () => {
    const r = await generateText({ model: deepseek('deepseek-chat'), prompt: 'Say hello.', maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    assert.equal(typeof r.text, 'string');
    assert.ok(['stop', 'length'].includes(r.finishReason));
    const u = r.usage;
    assert.ok(u.inputTokens! > 0);
    assert.equal(u.totalTokens, u.inputTokens! + u.outputTokens!);
    if (r.finishReason === 'length') assert.equal(u.outputTokens, 8);
  });

  it('streamText: streamed text equals the final text; a repeated long prompt reads the cache', async () => {
    const prompt = Array.from({ length: 30 }, (_, i) => `Fact ${i}: water boils at one hundred degrees.`).join('\n');
    const first = streamText({ model: deepseek('deepseek-chat'), prompt, maxOutputTokens: 6, maxRetries: 0 });
    let streamed = '';
    for await (const delta of first.textStream) streamed += delta;
    assert.equal(streamed, await first.text);
    const u1 = await first.usage;
    assert.ok(u1.inputTokens! >= 128);

    const second = streamText({ model: deepseek('deepseek-chat'), prompt, maxOutputTokens: 6, maxRetries: 0 });
    for await (const _ of second.textStream) { /* drain */ }
    const u2 = await second.usage;
    assert.equal(u2.inputTokens, u1.inputTokens);
    assert.ok(u2.inputTokenDetails.cacheReadTokens! >= 64, `cache read ${u2.inputTokenDetails.cacheReadTokens}`);
    assert.equal(u2.inputTokenDetails.noCacheTokens! + u2.inputTokenDetails.cacheReadTokens!, u2.inputTokens);
  });

  it('deepseek-reasoner: reasoning text and reasoning tokens, streamed and not', async () => {
    const r = await generateText({ model: deepseek('deepseek-reasoner'), prompt: 'Why?', maxOutputTokens: 8, maxRetries: 0 });
    assert.ok((r.reasoningText ?? '').length > 0);
    assert.ok(r.usage.outputTokenDetails.reasoningTokens! > 0);
    const s = streamText({ model: deepseek('deepseek-reasoner'), prompt: 'Why?', maxOutputTokens: 8, maxRetries: 0 });
    let reasoning = '';
    for await (const part of s.fullStream) if (part.type === 'reasoning-delta') reasoning += part.text;
    assert.ok(reasoning.length > 0);
  });

  it('tool calls with a forced tool choice, in generateText and streamText', async () => {
    const tools = {
      get_time: tool({ description: 'the current time', inputSchema: jsonSchema<Record<string, never>>({ type: 'object', properties: {} }) }),
    };
    const r = await generateText({
      model: deepseek('deepseek-chat'), prompt: 'What time is it?', tools, toolChoice: { type: 'tool', toolName: 'get_time' }, maxRetries: 0,
    });
    assert.equal(r.finishReason, 'tool-calls');
    assert.equal(r.toolCalls.length, 1);
    assert.equal(r.toolCalls[0]!.toolName, 'get_time');
    assert.deepEqual(r.toolCalls[0]!.input, {});

    const s = streamText({ model: deepseek('deepseek-chat'), prompt: 'Time?', tools, toolChoice: { type: 'tool', toolName: 'get_time' }, maxRetries: 0 });
    const names: string[] = [];
    for await (const part of s.fullStream) if (part.type === 'tool-call') names.push(part.toolName);
    assert.deepEqual(names, ['get_time']);
    assert.equal(await s.finishReason, 'tool-calls');
  });
});
