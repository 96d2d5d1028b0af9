import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonConstraint, JsonObjectConstraint, type JsonSchema, JsonSchemaError } from './json-constraint.js';
import { Random } from './random.js';

const enc = new TextEncoder();
const feedAll = (c: JsonConstraint, text: string) => c.feed(enc.encode(text));

/** A small validator for the schema subset the constraint enforces. */
function valid(v: unknown, s: JsonSchema | undefined): boolean {
  if (!s) return true;
  if (s.const !== undefined && JSON.stringify(v) !== JSON.stringify(s.const)) return false;
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return false;
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const ok = types.some((x) => x === t || (x === 'integer' && typeof v === 'number' && Number.isInteger(v)) || (x === 'number' && typeof v === 'number'));
    if (!ok) return false;
  }
  if (t === 'object') {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in o)) return false;
    for (const [k, x] of Object.entries(o)) {
      const ps = s.properties?.[k];
      if (!ps && s.additionalProperties === false) return false;
      if (!valid(x, ps ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined))) return false;
    }
  }
  if (t === 'array') {
    const a = v as unknown[];
    if (s.minItems !== undefined && a.length < s.minItems) return false;
    if (s.maxItems !== undefined && a.length > s.maxItems) return false;
    if (!a.every((x) => valid(x, s.items))) return false;
  }
  return true;
}

const PIECES = ['{', '}', '[', ']', '"', ':', ',', ' ', '\n', 'a', 'name', 'age', 'tags', 'kind', '"name"', '"age"', '"tags"', '"kind"', 'cat', 'dog',
  '1', '7', '0', '-', '.', 'e', '+', 'true', 'false', 'null', 'tru', '\\', 'n', 'u', '00e9', 'é', '"x"', '12.5', ']}', '"}', '": "'].map((p) => enc.encode(p));

function randomWalk(c: JsonConstraint, rng: Random, maxSteps: number): string {
  let text = '';
  for (let step = 0; step < maxSteps && !c.complete; step++) {
    let fed = false;
    for (let tries = 0; tries < 40 && !fed; tries++) {
      const p = PIECES[Math.floor(rng.next() * PIECES.length)]!;
      if (c.accepts(p)) { c.feed(p); text += new TextDecoder().decode(p); fed = true; }
    }
    if (!fed) break;
  }
  return text;
}

const person: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    kind: { enum: ['cat', 'dog'] },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
  },
  required: ['name', 'kind'],
  additionalProperties: false,
};

describe('JSON-constrained decoding', () => {
  it('accepts JSON objects and refuses what cannot be a prefix of one', () => {
    const ok = ['{"a": [1, -2.5e3, true, null, {"b": "c\\u00e9\\n"}]}', ' { }', '{"x":{}}'];
    // after the closing brace only end-of-sequence may come (no trailing whitespace loops)
    assert.ok(!feedAll(new JsonObjectConstraint(), '{} '));
    for (const t of ok) { const c = new JsonObjectConstraint(); assert.ok(feedAll(c, t), t); assert.ok(c.complete, t); }
    const bad = ['[1]', '"s"', '{"a" 1}', '{"a":01}', '{"a":1,}', '{"a":tru e}', '{} {}', '{"a":"\x01"}', '{"a":-}', '{"a":1.}'];
    for (const t of bad) { const c = new JsonObjectConstraint(); assert.ok(!(feedAll(c, t) && c.complete), t); }
  });

  it('enforces a schema: types, enums, required, no extra or duplicate keys, integer, maxItems', () => {
    const mk = () => new JsonConstraint({ object: true, schema: person });
    assert.ok(feedAll(mk(), '{"name": "Tom", "kind": "cat", "age": 3, "tags": ["a"]}'));
    const refused = ['{"nick"', '{"name": 1', '{"kind": "cow"', '{"age": 3.5', '{"name": "a", "name"', '{"name":"a"}', '{"tags":["a","b","c",', '{"kind": "cat", "age": "3"'];
    for (const t of refused) assert.ok(!feedAll(mk(), t), t);
    assert.throws(() => new JsonConstraint({ schema: { anyOf: [] } }), JsonSchemaError);
  });

  it('random walks closed by completion() always parse, and satisfy the schema', () => {
    const rng = new Random(7);
    for (let i = 0; i < 400; i++) {
      const schema = i % 2 ? person : undefined;
      const c = new JsonConstraint({ object: true, schema });
      const text = randomWalk(c, rng, Math.floor(rng.next() * 30));
      const full = text + c.completion();
      let v: unknown;
      assert.doesNotThrow(() => { v = JSON.parse(full); }, `walk ${i}: ${JSON.stringify(full)}`);
      assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), full);
      assert.ok(valid(v, schema), `walk ${i} violates the schema: ${full}`);
    }
  });
});
