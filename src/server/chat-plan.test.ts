// From request body to prompt: byte-exact against the official encoder's golden (tools attached,
// thinking mode, Python floats kept), and the decisions planChat makes (forcing, stops, JSON, limits).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { markers, pyJsonLoads } from '../encoding/index.js';
import { sharedDir } from '../testing/fixtures.js';
import { planChat } from './chat-plan.js';
import { ApiError } from './errors.js';
import { chatRequestSchema, parseBody } from './schemas.js';
import { syntheticServedModel } from './testing.js';

const served = syntheticServedModel({ config: { max_position_embeddings: 8192 } });

/** What the route does: validate the parsed JSON, and read tools/response_format the Python way. */
function plan(body: Record<string, unknown> | string, aliasThinking = false) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return planChat(parseBody(chatRequestSchema, JSON.parse(raw)), served, aliasThinking, pyJsonLoads(raw) as Record<string, unknown>);
}
const user = [{ role: 'user', content: 'hi' }];
const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const now = { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } };

function rejects(f: () => unknown, status: number, param?: string) {
  assert.throws(f, (e: unknown) => e instanceof ApiError && e.status === status && (param === undefined || e.param === param));
}

describe('planChat', () => {
  it('renders the official golden conversation byte for byte (thinking mode, tools on the system message)', () => {
    const dir = join(sharedDir, 'fixtures/encoding');
    const input = JSON.parse(readFileSync(join(dir, 'test_input.json'), 'utf8')) as { tools: unknown[]; messages: Record<string, unknown>[] };
    const golden = readFileSync(join(dir, 'test_output.txt'), 'utf8').trim();
    // the golden ends with an assistant answer: the prompt for the turns before it is its prefix
    const last = input.messages.at(-1)!;
    const p = plan({ model: 'deepseek-reasoner', tools: input.tools, messages: input.messages.slice(0, -1) }, true);
    assert.ok(p.thinking);
    assert.equal(p.startIn, 'reasoning');
    assert.equal(golden, p.promptText + `${last.reasoning_content}</think>${last.content}<｜end▁of▁sentence｜>`);
  });

  it('keeps tool schemas as written: 1.0 stays 1.0, key order is the client\'s', () => {
    const raw = '{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"parameters":{"type":"object","properties":{"t":{"type":"number","minimum":1.0,"10":"ten","2":"two"}}},"name":"f","description":"d"}}]}';
    const p = plan(raw);
    assert.match(p.promptText, /\{"parameters": \{"type": "object", "properties": \{"t": \{"type": "number", "minimum": 1\.0, "10": "ten", "2": "two"\}\}\}, "name": "f", "description": "d"\}/);
  });

  it('tool_choice: required and named force the DSML opener; a parameterless named call is complete; none stops a call', () => {
    const req = plan({ model: 'deepseek-chat', messages: user, tools: [weather], tool_choice: 'required' });
    assert.equal(req.forcing!.text, `\n\n${markers.FUNCTION_CALLS_OPEN}\n${markers.INVOKE_OPEN} name="`);
    assert.deepEqual(req.forcedIds, served.tokenizer.encode(req.forcing!.text, { allowSpecial: false }));
    const named = plan({ model: 'deepseek-chat', messages: user, tools: [weather, now], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    assert.ok(named.forcing!.text.endsWith('<｜DSML｜invoke name="get_weather">\n'));
    assert.equal(named.forcing!.complete, false);
    const whole = plan({ model: 'deepseek-chat', messages: user, tools: [weather, now], tool_choice: { type: 'function', function: { name: 'now' } } });
    assert.ok(whole.forcing!.complete);
    assert.ok(whole.forcing!.text.endsWith(`${markers.INVOKE_CLOSE}\n${markers.FUNCTION_CALLS_CLOSE}`));
    const thinking = plan({ model: 'deepseek-reasoner', messages: user, tools: [now], tool_choice: 'required' }, true);
    assert.equal(thinking.startIn, 'reasoning');
    assert.deepEqual(thinking.forcedIds, [], 'thinking mode forces after the reasoning, not in the prompt');
    const none = plan({ model: 'deepseek-chat', messages: user, tools: [weather], tool_choice: 'none' });
    assert.equal(none.forcing, null);
    assert.ok(none.gen.stop!.includes(markers.TOOL_CALLS_START));
    assert.ok(none.promptText.includes('## Tools'), 'the tools stay in the prompt');
    rejects(() => plan({ model: 'deepseek-chat', messages: user, tool_choice: 'required' }), 422, 'tool_choice');
    rejects(() => plan({ model: 'deepseek-chat', messages: user, tools: [weather], tool_choice: 'required', response_format: { type: 'json_object' } }), 422, 'response_format');
  });

  it('thinking mode: sampling fields ignored, logprobs refused, JSON constrained after </think>', () => {
    const t = plan({ model: 'deepseek-chat', thinking: { type: 'enabled' }, messages: user, temperature: 0.1, top_p: 0.2, response_format: { type: 'json_object' } });
    assert.deepEqual(t.gen.sampling, {});
    assert.deepEqual(t.gen.json, { afterToken: served.special.thinkEnd });
    const c = plan({ model: 'deepseek-reasoner', thinking: { type: 'disabled' }, messages: user, temperature: 0.1, response_format: { type: 'json_object' } }, true);
    assert.equal(c.thinking, false);
    assert.equal(c.gen.sampling!.temperature, 0.1);
    assert.equal(c.gen.json, true);
    rejects(() => plan({ model: 'deepseek-reasoner', messages: user, logprobs: true }, true), 422, 'logprobs');
    rejects(() => plan({ model: 'deepseek-chat', messages: user, top_logprobs: 2 }), 422, 'top_logprobs');
  });

  it('prefix completion: continues the assistant text; a reasoning-only prefix continues the reasoning', () => {
    const p = plan({ model: 'deepseek-chat', messages: [...user, { role: 'assistant', content: '```python\n', prefix: true }] });
    assert.ok(p.promptText.endsWith('```python\n'));
    assert.equal(p.startIn, 'content');
    const r = plan({ model: 'deepseek-reasoner', messages: [...user, { role: 'assistant', content: '', reasoning_content: 'Let me see', prefix: true }] }, true);
    assert.ok(r.promptText.endsWith('<think>Let me see'));
    assert.equal(r.startIn, 'reasoning');
    rejects(() => plan({ model: 'deepseek-chat', messages: [...user, { role: 'assistant', content: 'done' }] }), 400, 'messages');
  });

  it('limits: max_tokens per mode (422 above), clamped to the context', () => {
    assert.equal(plan({ model: 'deepseek-chat', messages: user }).maxTokens, 4096);
    assert.equal(plan({ model: 'deepseek-chat', messages: user, max_completion_tokens: 7 }).maxTokens, 7);
    rejects(() => plan({ model: 'deepseek-chat', messages: user, max_tokens: 8193 }), 422, 'max_tokens');
    const t = plan({ model: 'deepseek-reasoner', messages: user, max_tokens: 65536 }, true);
    assert.equal(t.maxTokens, served.contextLength - t.promptIds.length);
    rejects(() => plan({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'w '.repeat(9000) }] }), 400, 'messages');
    const stop = plan({ model: 'deepseek-chat', messages: user, stop: ['', 'END'] });
    assert.deepEqual(stop.gen.stop, ['END']);
  });
});
