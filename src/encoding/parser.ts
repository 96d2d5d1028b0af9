// Incremental parser of DeepSeek-V3.2 completions: reasoning up to </think>, content, then DSML
// tool-call blocks. Fed text in arbitrary pieces (even splitting markup), it emits the deltas a
// streaming OpenAI-style API needs. Unlike the official parser it never throws on model output:
// text that cannot be parsed is passed on as content flagged `malformed`. Every decision depends on
// the text alone, never on where it was split, so streaming equals parsing the whole at once.
import { buildArguments, toolParameterSchemas } from './coerce.js';
import {
  EOS, FUNCTION_CALLS_CLOSE, FUNCTION_CALLS_OPEN, INVOKE_CLOSE, INVOKE_OPEN, PARAMETER_CLOSE, PARAMETER_OPEN, THINK_END, THINK_START, TOOL_CALLS_START,
} from './templates.js';
import type { ThinkingMode, Tool, ToolFunction } from './types.js';

export type ParseEvent =
  | { type: 'reasoning_content'; text: string }
  | { type: 'content'; text: string; malformed?: true }
  | { type: 'tool_call'; index: number; name: string; arguments: string };

export interface ParsedToolCall {
  name: string;
  /** JSON object text, Python-json style ({"k": "v", "n": 5}) like the official decoder. */
  arguments: string;
}

export interface ParsedCompletion {
  reasoningContent: string;
  content: string;
  toolCalls: ParsedToolCall[];
  /** Some output could not be parsed (or was cut off inside a tool call) and went to content. */
  malformed: boolean;
  /** The end-of-sentence marker was seen in the text. */
  sawEos: boolean;
}

export interface ParserOptions {
  /** 'thinking': output starts inside reasoning (the prompt ended with <think>). Default 'chat'. */
  thinkingMode?: ThinkingMode;
  /** Overrides where output starts, e.g. 'content' for a prefix completion that already closed </think>. */
  startIn?: 'reasoning' | 'content';
  /** Tools of the request: their parameter schemas fix string/non-string slips in arguments. */
  tools?: readonly (Tool | ToolFunction)[] | null;
}

type State = 'reasoning' | 'content' | 'tools' | 'after_tools' | 'malformed' | 'done';

const FUNCTION_CALLS_BARE = `<${FUNCTION_CALLS_OPEN.slice(1, -1)}`; // "<｜DSML｜function_calls" without ">"

// Outcome of matching at a position: ok (with the new position), need more text, or impossible.
type Step = { ok: true; at: number } | { ok: false; partial: boolean };

function lit(buf: string, at: number, s: string): Step {
  const have = buf.slice(at, at + s.length);
  if (have === s) return { ok: true, at: at + s.length };
  return { ok: false, partial: have.length < s.length && s.startsWith(have) };
}

function skipWs(buf: string, at: number): number {
  while (at < buf.length && (buf[at] === ' ' || buf[at] === '\n' || buf[at] === '\t' || buf[at] === '\r')) at++;
  return at;
}

/** Attributes of a tag head like ` name="x" string="true"` (nothing else allowed). */
function parseAttrs(head: string): Map<string, string> | null {
  const attrs = new Map<string, string>();
  const re = /\s*([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"/y;
  let at = 0;
  while (at < head.length) {
    if (/^\s*$/.test(head.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(head);
    if (!m) return null;
    attrs.set(m[1]!, m[2]!);
    at = re.lastIndex;
  }
  return attrs;
}

/** Earliest complete marker in buf, or how much of buf is safe to emit (not a possible marker start). */
function scanMarkers(buf: string, markers: readonly string[]): { index: number; marker: string } | { safe: number } {
  let best: { index: number; marker: string } | null = null;
  for (const m of markers) {
    const i = buf.indexOf(m);
    if (i >= 0 && (!best || i < best.index || (i === best.index && m.length > best.marker.length))) best = { index: i, marker: m };
  }
  if (best) return best;
  // Hold back the longest suffix that could still grow into a marker.
  let hold = 0;
  for (const m of markers) {
    for (let k = Math.min(m.length - 1, buf.length); k > hold; k--) {
      if (buf.endsWith(m.slice(0, k))) { hold = k; break; }
    }
  }
  return { safe: buf.length - hold };
}

type Invoke = { name: string; params: Map<string, { raw: string; string: string | undefined }> };
type InvokeStep = { ok: true; at: number; invoke: Invoke } | { ok: false; partial: boolean };

/** One complete <｜DSML｜invoke …>…</｜DSML｜invoke> starting at `at`. */
function parseInvoke(buf: string, at: number): InvokeStep {
  let s = lit(buf, at, INVOKE_OPEN);
  if (!s.ok) return s;
  const headEnd = buf.indexOf('>', s.at);
  if (headEnd < 0) return { ok: false, partial: true };
  const head = parseAttrs(buf.slice(s.at, headEnd));
  const name = head?.get('name');
  if (!head || !name || head.size !== 1) return { ok: false, partial: false };
  const invoke: Invoke = { name, params: new Map() };
  let p = headEnd + 1;
  for (;;) {
    p = skipWs(buf, p);
    const close = lit(buf, p, INVOKE_CLOSE);
    if (close.ok) return { ok: true, at: close.at, invoke };
    s = lit(buf, p, PARAMETER_OPEN);
    if (!s.ok) return { ok: false, partial: close.partial || s.partial };
    const pHeadEnd = buf.indexOf('>', s.at);
    if (pHeadEnd < 0) return { ok: false, partial: true };
    const attrs = parseAttrs(buf.slice(s.at, pHeadEnd));
    const pname = attrs?.get('name');
    const str = attrs?.get('string');
    if (!attrs || pname === undefined || (str !== undefined && str !== 'true' && str !== 'false')) return { ok: false, partial: false };
    const valueEnd = buf.indexOf(PARAMETER_CLOSE, pHeadEnd + 1);
    if (valueEnd < 0) return { ok: false, partial: true };
    invoke.params.set(pname, { raw: buf.slice(pHeadEnd + 1, valueEnd), string: str });
    p = valueEnd + PARAMETER_CLOSE.length;
  }
}

export class CompletionParser {
  private state: State;
  private buf = '';
  /** Whether the current tool block's opener has been read. */
  private opened = false;
  /** Tool-block text already consumed (the opener) but not yet backed by an emitted call. */
  private pendingRaw = '';
  private finished = false;
  private readonly schemas: ReturnType<typeof toolParameterSchemas>;
  private readonly out: ParsedCompletion = { reasoningContent: '', content: '', toolCalls: [], malformed: false, sawEos: false };

  constructor(opts: ParserOptions = {}) {
    this.state = opts.startIn ?? (opts.thinkingMode === 'thinking' ? 'reasoning' : 'content');
    this.schemas = toolParameterSchemas(opts.tools);
  }

  /** Feeds generated text; returns the events it completes. */
  push(text: string): ParseEvent[] {
    if (this.finished || typeof text !== 'string' || text.length === 0) return [];
    this.buf += text;
    const events: ParseEvent[] = [];
    this.run(events, false);
    return events;
  }

  /** Ends the stream: flushes held-back text; an unfinished tool block becomes malformed content. */
  finish(): ParseEvent[] {
    if (this.finished) return [];
    const events: ParseEvent[] = [];
    this.run(events, true);
    this.finished = true;
    return events;
  }

  /** Everything parsed so far. */
  get result(): ParsedCompletion {
    return { ...this.out, toolCalls: [...this.out.toolCalls] };
  }

  private emit(events: ParseEvent[], ev: ParseEvent): void {
    if (ev.type === 'tool_call') {
      this.out.toolCalls.push({ name: ev.name, arguments: ev.arguments });
    } else {
      if (!ev.text) return;
      if (ev.type === 'reasoning_content') this.out.reasoningContent += ev.text;
      else {
        this.out.content += ev.text;
        if (ev.malformed) this.out.malformed = true;
      }
    }
    // Merge with the previous event of the same kind to keep streams compact.
    const last = events[events.length - 1];
    if (last && last.type === ev.type && last.type !== 'tool_call' && ev.type !== 'tool_call' && (last as { malformed?: true }).malformed === (ev as { malformed?: true }).malformed) {
      last.text += ev.text;
    } else {
      events.push(ev);
    }
  }

  private text(events: ParseEvent[], kind: 'reasoning_content' | 'content', text: string, malformed = false): void {
    if (kind === 'content') this.emit(events, malformed ? { type: 'content', text, malformed: true } : { type: 'content', text });
    else this.emit(events, { type: 'reasoning_content', text });
  }

  private run(events: ParseEvent[], final: boolean): void {
    for (;;) {
      const before = this.state;
      const beforeLen = this.buf.length;
      switch (this.state) {
        case 'reasoning': this.plain(events, final, 'reasoning_content', [THINK_END, TOOL_CALLS_START, EOS]); break;
        case 'content': this.plain(events, final, 'content', [TOOL_CALLS_START, FUNCTION_CALLS_BARE, EOS]); break;
        case 'tools': this.tools(events, final); break;
        case 'after_tools': this.afterTools(events, final); break;
        case 'malformed': this.plain(events, final, 'content', [EOS], true); break;
        case 'done':
          // Nothing should follow the end-of-sentence marker; if it does, keep it visible.
          this.text(events, 'content', this.buf, true);
          this.buf = '';
          break;
      }
      if (this.state === before && this.buf.length === beforeLen) return;
    }
  }

  /** Reasoning, content or malformed text up to the next marker. */
  private plain(events: ParseEvent[], final: boolean, kind: 'reasoning_content' | 'content', markers: readonly string[], malformed = false): void {
    const found = scanMarkers(this.buf, markers);
    if ('safe' in found) {
      const n = final ? this.buf.length : found.safe;
      this.text(events, kind, this.buf.slice(0, n), malformed);
      this.buf = this.buf.slice(n);
      return;
    }
    this.text(events, kind, this.buf.slice(0, found.index), malformed);
    if (found.marker === EOS) {
      this.out.sawEos = true;
      this.buf = this.buf.slice(found.index + EOS.length);
      this.state = 'done';
    } else if (found.marker === THINK_END) {
      this.buf = this.buf.slice(found.index + THINK_END.length);
      this.state = 'content';
    } else {
      // A tool block (also one opened straight from reasoning without </think>): keep its text in buf.
      this.buf = this.buf.slice(found.index);
      this.state = 'tools';
    }
  }

  /** Inside a function_calls block: opener, complete invokes, closer. */
  private tools(events: ParseEvent[], final: boolean): void {
    // Unparsable: the unbacked block text is re-read as malformed content (which still stops at EOS).
    const fail = () => {
      this.buf = this.pendingRaw + this.buf;
      this.pendingRaw = '';
      this.opened = false;
      this.state = 'malformed';
      this.out.malformed = true;
    };
    let p = 0;
    if (!this.opened) {
      // Opener: ["\n\n"]<｜DSML｜function_calls ws >
      if (this.buf.startsWith('\n\n')) p = 2;
      const s = lit(this.buf, p, FUNCTION_CALLS_BARE);
      if (!s.ok) return s.partial && !final ? undefined : fail();
      p = skipWs(this.buf, s.at);
      const gt = lit(this.buf, p, '>');
      if (!gt.ok) return p < this.buf.length || final ? fail() : undefined;
      this.pendingRaw = this.buf.slice(0, gt.at);
      this.buf = this.buf.slice(gt.at);
      this.opened = true;
    }
    for (;;) {
      p = skipWs(this.buf, 0);
      const close = lit(this.buf, p, FUNCTION_CALLS_CLOSE);
      if (close.ok) {
        this.buf = this.buf.slice(close.at);
        this.pendingRaw = '';
        this.opened = false;
        this.state = 'after_tools';
        return;
      }
      const inv = parseInvoke(this.buf, p);
      if (!inv.ok) {
        if ((inv.partial || close.partial || p === this.buf.length) && !final) return;
        return fail();
      }
      const index = this.out.toolCalls.length;
      this.emit(events, { type: 'tool_call', index, name: inv.invoke.name, arguments: buildArguments(inv.invoke.params, this.schemas.get(inv.invoke.name)) });
      // The opener is now backed by a call; a later failure only gives back text after this invoke.
      this.pendingRaw = '';
      this.buf = this.buf.slice(inv.at);
    }
  }

  /** After </｜DSML｜function_calls>: only whitespace, another block, or EOS may follow. */
  private afterTools(events: ParseEvent[], final: boolean): void {
    const p = skipWs(this.buf, 0);
    const rest = this.buf.slice(p);
    if (rest.startsWith(EOS)) {
      this.out.sawEos = true;
      this.buf = rest.slice(EOS.length);
      this.state = 'done';
    } else if (rest.startsWith(FUNCTION_CALLS_BARE)) {
      this.buf = rest;
      this.pendingRaw = '';
      this.state = 'tools';
    } else if (rest.length && (final || !(EOS.startsWith(rest) || FUNCTION_CALLS_BARE.startsWith(rest)))) {
      this.buf = rest;
      this.state = 'malformed';
      this.out.malformed = true;
    } else {
      // Trailing whitespace is dropped; a possible marker start waits for more text.
      this.buf = rest;
    }
  }
}

/** Where the model's output starts for a rendered prompt: inside reasoning when it ends with <think>
 *  (thinking mode, also after tool results), else in content (chat mode, prefix completions). */
export function outputStartFor(prompt: string): 'reasoning' | 'content' {
  return prompt.endsWith(THINK_START) ? 'reasoning' : 'content';
}

/** Parses a whole completion; equal to streaming it in any chunking. */
export function parseCompletion(text: string, opts: ParserOptions = {}): ParsedCompletion {
  const p = new CompletionParser(opts);
  p.push(text);
  p.finish();
  return p.result;
}

/** The parsed completion as an OpenAI/official-style assistant message (tool calls without ids). */
export function completionToMessage(r: ParsedCompletion): {
  role: 'assistant';
  content: string;
  reasoning_content: string;
  tool_calls: { type: 'function'; function: { name: string; arguments: string } }[];
} {
  return {
    role: 'assistant',
    content: r.content,
    reasoning_content: r.reasoningContent,
    tool_calls: r.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, arguments: c.arguments } })),
  };
}
