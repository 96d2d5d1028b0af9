// Turns one DSML parameter (raw text + its string="true|false" attribute) into JSON text for the
// call's `arguments`, using the tool's JSON schema when there is one to fix the model's slips
// (an integer written with string="true", a string written with string="false").
import { pyJsonString } from './pyjson.js';
import type { Tool, ToolFunction } from './types.js';

type JsonType = 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'boolean': return 'boolean';
    case 'number': return Number.isInteger(v) ? 'integer' : 'number';
    case 'string': return 'string';
    default: return 'object';
  }
}

/** The JSON types a schema admits, or null when it does not say. */
export function schemaTypes(schema: unknown): Set<string> | null {
  if (!isRecord(schema)) return null;
  if (typeof schema.type === 'string') return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type.filter((t): t is string => typeof t === 'string'));
  if (Array.isArray(schema.enum) && schema.enum.length) return new Set(schema.enum.map(typeOf));
  if ('const' in schema) return new Set([typeOf(schema.const)]);
  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null;
  if (branches) {
    const all = new Set<string>();
    for (const b of branches) {
      const t = schemaTypes(b);
      if (!t) return null;
      for (const x of t) all.add(x);
    }
    return all;
  }
  if (isRecord(schema.properties)) return new Set(['object']);
  if ('items' in schema) return new Set(['array']);
  return null;
}

function admits(types: Set<string>, v: unknown): boolean {
  const t = typeOf(v);
  return types.has(t) || (t === 'integer' && types.has('number'));
}

// Strict JSON only: the arguments string must parse for every OpenAI client (no NaN/Infinity).
function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// Python spellings a model sometimes writes for JSON literals.
const PY_LITERALS: Record<string, string> = { True: 'true', False: 'false', None: 'null' };

/** JSON text of a parameter value. */
export function parameterValueJson(raw: string, stringAttr: string | undefined, schema: unknown): string {
  const types = schemaTypes(schema);
  const trimmed = raw.trim();
  const asJson = (): string | null => {
    const lit = PY_LITERALS[trimmed];
    const text = lit ?? trimmed;
    const parsed = parseJson(text);
    return parsed.ok ? text : null;
  };
  const parsedType = (text: string): unknown => JSON.parse(text);

  if (stringAttr === 'true') {
    if (types && !types.has('string')) {
      const j = asJson();
      if (j !== null && admits(types, parsedType(j))) return j;
    }
    return pyJsonString(raw);
  }
  // string="false" or absent: JSON expected.
  if (types && types.size === 1 && types.has('string')) {
    const p = parseJson(trimmed);
    return p.ok && typeof p.value === 'string' ? trimmed : pyJsonString(raw);
  }
  const j = asJson();
  if (j !== null) {
    // Official output inserts the model's JSON text as it is.
    if (!types || admits(types, parsedType(j)) || !types.has('string')) return j;
  }
  return pyJsonString(raw);
}

/** Parameter schemas by tool name, from OpenAI-style tools or bare function objects. */
export function toolParameterSchemas(tools: readonly (Tool | ToolFunction)[] | null | undefined): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!Array.isArray(tools)) return out;
  for (const t of tools) {
    const fn: unknown = isRecord(t) && isRecord(t.function) ? t.function : t;
    if (!isRecord(fn) || typeof fn.name !== 'string') continue;
    const params = fn.parameters;
    out.set(fn.name, isRecord(params) && isRecord(params.properties) ? params.properties : {});
  }
  return out;
}

/** The `arguments` string of a call, Python-json style like the official decoder: {"k": v, ...}. */
export function buildArguments(params: ReadonlyMap<string, { raw: string; string: string | undefined }>, schemas: Record<string, unknown> | undefined): string {
  const parts: string[] = [];
  for (const [name, { raw, string }] of params) {
    parts.push(`${pyJsonString(name)}: ${parameterValueJson(raw, string, schemas?.[name])}`);
  }
  return `{${parts.join(', ')}}`;
}
