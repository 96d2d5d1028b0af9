// @ts-check
// The chat page: talks to this server's /v1 API with streaming, shows reasoning in a collapsible block
// and tool calls (whose results the user types in). Model text is only ever set as textContent.

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const els = {
  model: $('model'), thinking: $('thinking'), newChat: $('new-chat'), apiKey: $('api-key'), maxTokens: $('max-tokens'),
  temperature: $('temperature'), system: $('system'), tools: $('tools'), toolChoice: $('tool-choice'), log: $('log'), form: $('composer'),
  input: $('input'), send: $('send'), stop: $('stop'), status: $('status'),
};

/** @type {any[]} the conversation in API form */
let messages = [];
/** @type {{id: string, name: string}[]} tool calls of the last answer still waiting for results */
let pendingCalls = [];
/** @type {AbortController | null} */
let inFlight = null;

// settings survive reloads
for (const key of ['apiKey', 'maxTokens', 'temperature', 'system', 'tools', 'toolChoice']) {
  const el = els[key];
  const saved = localStorage.getItem(`dsv32.${key}`);
  if (saved !== null) el.value = saved;
  el.addEventListener('change', () => localStorage.setItem(`dsv32.${key}`, el.value));
}

function headers() {
  /** @type {Record<string, string>} */
  const h = { 'content-type': 'application/json' };
  if (els.apiKey.value) h.authorization = `Bearer ${els.apiKey.value}`;
  return h;
}

function status(text) {
  els.status.textContent = text;
}

async function loadModels() {
  try {
    const r = await fetch('/v1/models', { headers: headers() });
    const body = await r.json();
    if (!r.ok) throw new Error(body?.error?.message ?? r.statusText);
    els.model.replaceChildren(...body.data.map((/** @type {{id: string}} */ m) => new Option(m.id, m.id)));
    const saved = localStorage.getItem('dsv32.model');
    if (saved && body.data.some((/** @type {{id: string}} */ m) => m.id === saved)) els.model.value = saved;
    status('');
  } catch (e) {
    status(`Could not list models: ${/** @type {Error} */ (e).message}`);
  }
}
els.model.addEventListener('change', () => {
  localStorage.setItem('dsv32.model', els.model.value);
  if (els.model.value === 'deepseek-reasoner') els.thinking.checked = true;
  if (els.model.value === 'deepseek-chat') els.thinking.checked = false;
});
els.apiKey.addEventListener('change', loadModels);

/** Appends a message bubble; returns its parts. */
function bubble(role, text = '') {
  const div = document.createElement('div');
  div.className = `msg ${role}`;
  const label = document.createElement('div');
  label.className = 'role';
  label.textContent = role;
  const content = document.createElement('div');
  content.className = 'content';
  content.textContent = text;
  div.append(label, content);
  els.log.append(div);
  els.log.scrollTop = els.log.scrollHeight;
  return { div, content };
}

function thinkingBlock(div, content) {
  const d = document.createElement('details');
  d.className = 'thinking';
  d.open = true;
  const s = document.createElement('summary');
  s.textContent = 'Thinking…';
  const body = document.createElement('div');
  d.append(s, body);
  div.insertBefore(d, content);
  return { details: d, summary: s, body };
}

function toolCallBlock(div, call) {
  const el = document.createElement('div');
  el.className = 'tool-call';
  el.textContent = `tool call: ${call.function.name}(${call.function.arguments})`;
  div.append(el);
}

function parseTools() {
  const text = els.tools.value.trim();
  if (!text) return undefined;
  const tools = JSON.parse(text);
  if (!Array.isArray(tools)) throw new Error('tools must be a JSON array');
  return tools;
}

/** Reads an SSE response, calling onData for each `data:` JSON object. */
async function readSse(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ')) continue; // comments (": keep-alive") and blank lines
        const data = line.slice(6);
        if (data === '[DONE]') return;
        onData(JSON.parse(data));
      }
    }
  }
}

/** auto / none / required, or the name of a function to call */
function toolChoice() {
  const v = els.toolChoice.value.trim();
  if (!v || ['auto', 'none', 'required'].includes(v)) return v || undefined;
  return { type: 'function', function: { name: v } };
}

async function complete() {
  let tools;
  try {
    tools = parseTools();
  } catch (e) {
    status(`Tools: ${/** @type {Error} */ (e).message}`);
    return;
  }
  const thinking = els.thinking.checked;
  const body = {
    model: els.model.value || 'deepseek-chat',
    messages: els.system.value.trim() ? [{ role: 'system', content: els.system.value }, ...messages] : messages,
    stream: true,
    stream_options: { include_usage: true },
    thinking: { type: thinking ? 'enabled' : 'disabled' },
    max_tokens: Number(els.maxTokens.value) || undefined,
    temperature: els.temperature.value === '' ? undefined : Number(els.temperature.value),
    tools,
    // a forced call is asked for once per user turn; after its results the model answers freely
    tool_choice: tools ? (messages.at(-1)?.role === 'tool' ? 'auto' : toolChoice()) : undefined,
  };
  const { div, content } = bubble('assistant');
  div.classList.add('streaming');
  let think = null;
  let text = '';
  let reasoning = '';
  const calls = [];
  let finish = null;
  inFlight = new AbortController();
  els.send.disabled = true;
  els.stop.hidden = false;
  status('Waiting for the model…');
  try {
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: inFlight.signal });
    if (!r.ok) {
      const err = await r.json().catch(() => ({}));
      throw new Error(err?.error?.message ?? `${r.status} ${r.statusText}`);
    }
    await readSse(r, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) {
        const u = chunk.usage;
        const usage = document.createElement('div');
        usage.className = 'usage';
        usage.textContent = `${u.prompt_tokens} prompt tokens (${u.prompt_cache_hit_tokens} cached) · ${u.completion_tokens} completion tokens` +
          (u.completion_tokens_details?.reasoning_tokens ? ` (${u.completion_tokens_details.reasoning_tokens} reasoning)` : '');
        div.append(usage);
      }
      const choice = chunk.choices?.[0];
      if (!choice) return;
      const d = choice.delta ?? {};
      if (d.reasoning_content) {
        think ??= thinkingBlock(div, content);
        reasoning += d.reasoning_content;
        think.body.textContent = reasoning;
        status('Thinking…');
      }
      if (d.content) {
        if (think && think.details.open && !text) { think.details.open = false; think.summary.textContent = 'Thought'; }
        text += d.content;
        content.textContent = text;
        status('Answering…');
      }
      for (const tc of d.tool_calls ?? []) {
        calls[tc.index] = { id: tc.id, type: 'function', function: { name: tc.function.name, arguments: tc.function.arguments } };
        toolCallBlock(div, calls[tc.index]);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
      els.log.scrollTop = els.log.scrollHeight;
    });
    if (think) { think.details.open = false; think.summary.textContent = 'Thought'; }
    /** @type {any} */
    const msg = { role: 'assistant', content: text };
    if (calls.length) {
      msg.tool_calls = calls;
      // within a tool loop, thinking mode needs the reasoning sent back
      if (thinking) msg.reasoning_content = reasoning;
    }
    messages.push(msg);
    pendingCalls = calls.map((c) => ({ id: c.id, name: c.function.name }));
    status(pendingCalls.length ? `Type the result of ${pendingCalls[0].name}` : `Done (${finish ?? 'stopped'})`);
  } catch (e) {
    const err = document.createElement('div');
    err.className = 'error';
    err.textContent = /** @type {Error} */ (e).name === 'AbortError' ? 'stopped' : `Error: ${/** @type {Error} */ (e).message}`;
    div.append(err);
    if (text || reasoning) messages.push({ role: 'assistant', content: text });
    status('');
  } finally {
    div.classList.remove('streaming');
    inFlight = null;
    els.send.disabled = false;
    els.stop.hidden = true;
    els.input.placeholder = pendingCalls.length ? `Result of ${pendingCalls[0].name}` : 'Message (Enter sends, Shift+Enter for a new line)';
    els.input.focus();
  }
}

els.form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = els.input.value;
  if (inFlight || (!text.trim() && !pendingCalls.length)) return;
  els.input.value = '';
  if (pendingCalls.length) {
    const call = /** @type {{id: string, name: string}} */ (pendingCalls.shift());
    messages.push({ role: 'tool', tool_call_id: call.id, content: text });
    bubble('tool', `${call.name} → ${text}`);
    if (pendingCalls.length) {
      els.input.placeholder = `Result of ${pendingCalls[0].name}`;
      status(`Type the result of ${pendingCalls[0].name}`);
      return;
    }
  } else {
    messages.push({ role: 'user', content: text });
    bubble('user', text);
  }
  void complete();
});
els.input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); els.form.requestSubmit(); }
});
els.stop.addEventListener('click', () => inFlight?.abort());
els.newChat.addEventListener('click', () => {
  inFlight?.abort();
  messages = [];
  pendingCalls = [];
  els.log.replaceChildren();
  status('');
  els.input.focus();
});

void loadModels();
