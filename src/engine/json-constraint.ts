// Grammar-constrained JSON output: a byte-level pushdown automaton that accepts exactly the prefixes of
// JSON texts (for response_format json_object: of a JSON object), optionally narrowed by a JSON schema:
// value types, object properties (required / additionalProperties: false, no duplicate keys), string
// enums/const, integer vs number, array items and min/maxItems. A token is allowed when all its bytes
// keep the text a valid prefix; end-of-sequence only when the value is complete. If generation must stop
// early, `completion()` gives a short suffix that closes the JSON (valid for the schema too).

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  [k: string]: unknown;
}

const enum Mode {
  Value, ArrOpen, ObjOpen, ObjKey, Colon, After, Str, Esc, Hex,
  NumSign, NumZero, NumInt, NumDot, NumFrac, NumExp, NumExpSign, NumExpDigits, Lit, Done,
}

type JType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

interface Frame {
  kind: 0x7b | 0x5b;
  schema: JsonSchema | null;
  /** object keys seen so far */
  seen: string[];
  /** entries so far (object members or array items) */
  count: number;
}

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);
const utf8 = new TextEncoder();
/** the raw text between the quotes of a string's canonical JSON form */
const rawForm = (s: string) => utf8.encode(JSON.stringify(s).slice(1, -1));

export class JsonSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSchemaError';
  }
}

/** Types a schema admits (null = anything). */
function typesOf(s: JsonSchema | null): Set<JType> | null {
  if (!s) return null;
  if (s.const !== undefined) return new Set([jsonType(s.const)]);
  if (Array.isArray(s.enum)) return new Set(s.enum.map(jsonType));
  if (s.type !== undefined) {
    const t = new Set((Array.isArray(s.type) ? s.type : [s.type]) as JType[]);
    if (t.has('number')) t.add('integer');
    return t;
  }
  if (s.properties || s.required || s.additionalProperties !== undefined) return new Set(['object']);
  if (s.items) return new Set(['array']);
  return null;
}

function jsonType(v: unknown): JType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JType;
}

/** Checks a schema uses only what the constraint understands (others are rejected, not ignored). */
export function checkSchema(s: unknown, path = '$'): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new JsonSchemaError(`${path}: a schema must be an object`);
  const o = s as JsonSchema;
  for (const k of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'patternProperties', 'if']) {
    if (k in o) throw new JsonSchemaError(`${path}: "${k}" is not supported by constrained decoding`);
  }
  const known: JType[] = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
  if (o.type !== undefined) for (const t of Array.isArray(o.type) ? o.type : [o.type]) if (!known.includes(t as JType)) throw new JsonSchemaError(`${path}: unknown type ${JSON.stringify(t)}`);
  if (o.properties) for (const [k, v] of Object.entries(o.properties)) checkSchema(v, `${path}.${k}`);
  if (o.items) checkSchema(o.items, `${path}[]`);
  if (typeof o.additionalProperties === 'object') checkSchema(o.additionalProperties, `${path}.*`);
  if (o.required && o.additionalProperties === false) {
    for (const r of o.required) if (!o.properties?.[r]) throw new JsonSchemaError(`${path}: required "${r}" is not among the properties`);
  }
}

export interface JsonConstraintOptions {
  /** the top-level value must be an object (response_format json_object) */
  object?: boolean;
  schema?: JsonSchema;
}

export class JsonConstraint {
  private mode: Mode = Mode.Value;
  private stack: Frame[] = [];
  /** schema of the value about to start */
  private next: JsonSchema | null;
  private rootTypes: Set<JType> | null;
  private strIsKey = false;
  private str: number[] = [];
  /** canonical raw forms the current string may take (null = any) */
  private strForms: Uint8Array[] | null = null;
  private integer = false;
  private hexLeft = 0;
  private lit = '';
  private litPos = 0;
  private started = false;

  constructor(private readonly opts: JsonConstraintOptions = {}) {
    if (opts.schema) checkSchema(opts.schema);
    this.next = opts.schema ?? null;
    const t = typesOf(this.next);
    this.rootTypes = opts.object ? new Set<JType>(['object']) : null;
    if (t && this.rootTypes) this.rootTypes = new Set([...t].filter((x) => x === 'object'));
    else if (t) this.rootTypes = t;
    if (this.rootTypes && !this.rootTypes.size) throw new JsonSchemaError('$: the schema admits no object, but a JSON object is required');
  }

  clone(): JsonConstraint {
    const c = Object.create(JsonConstraint.prototype) as JsonConstraint;
    Object.assign(c, this);
    c.stack = this.stack.map((f) => ({ ...f, seen: f.seen.slice() }));
    c.str = this.str.slice();
    return c;
  }

  get complete(): boolean {
    // a bare top-level number has no closing byte: it is complete whenever its digits are
    const numDone = this.mode === Mode.NumZero || this.mode === Mode.NumInt || this.mode === Mode.NumFrac || this.mode === Mode.NumExpDigits;
    return this.mode === Mode.Done || (numDone && !this.stack.length);
  }

  feed(bytes: Uint8Array): boolean {
    for (const b of bytes) if (!this.step(b)) return false;
    return true;
  }

  accepts(bytes: Uint8Array): boolean {
    return bytes.length > 0 && this.clone().feed(bytes);
  }

  private top(): Frame | undefined {
    return this.stack[this.stack.length - 1];
  }

  private startValue(b: number): boolean {
    const types = this.started ? typesOf(this.next) : this.rootTypes;
    this.started = true;
    const ok = (t: JType) => !types || types.has(t);
    const s = this.next;
    switch (b) {
      case 0x7b:
        if (!ok('object')) return false;
        this.stack.push({ kind: 0x7b, schema: s, seen: [], count: 0 });
        this.mode = Mode.ObjOpen;
        return true;
      case 0x5b:
        if (!ok('array')) return false;
        this.stack.push({ kind: 0x5b, schema: s, seen: [], count: 0 });
        this.mode = Mode.ArrOpen;
        return true;
      case 0x22: {
        if (!ok('string')) return false;
        const vals = s?.const !== undefined ? [s.const] : s?.enum;
        this.strForms = vals ? vals.filter((v): v is string => typeof v === 'string').map(rawForm) : null;
        this.strIsKey = false;
        this.str = [];
        this.mode = Mode.Str;
        return true;
      }
      case 0x74: if (!ok('boolean')) return false; this.lit = 'true'; break;
      case 0x66: if (!ok('boolean')) return false; this.lit = 'false'; break;
      case 0x6e: if (!ok('null')) return false; this.lit = 'null'; break;
      default: {
        if (b !== 0x2d && !isDigit(b)) return false;
        if (!ok('integer') && !ok('number')) return false;
        this.integer = !!types && !types.has('number');
        this.mode = b === 0x2d ? Mode.NumSign : b === 0x30 ? Mode.NumZero : Mode.NumInt;
        return true;
      }
    }
    this.litPos = 1;
    this.mode = Mode.Lit;
    return true;
  }

  private endValue(): void {
    const f = this.top();
    if (f) f.count++;
    this.mode = this.stack.length ? Mode.After : Mode.Done;
  }

  /** Property names still allowed in the open object (null = any name). */
  private keyForms(f: Frame): Uint8Array[] | null {
    const s = f.schema;
    if (!s || s.additionalProperties !== false) return null;
    return Object.keys(s.properties ?? {}).filter((k) => !f.seen.includes(k)).map(rawForm);
  }

  private canClose(f: Frame): boolean {
    if (f.kind === 0x5b) return f.count >= (f.schema?.minItems ?? 0);
    return (f.schema?.required ?? []).every((r) => f.seen.includes(r));
  }

  private canContinue(f: Frame): boolean {
    if (f.kind === 0x5b) return f.schema?.maxItems === undefined || f.count < f.schema.maxItems;
    const forms = this.keyForms(f);
    return forms === null || forms.length > 0;
  }

  private after(b: number): boolean {
    if (isWs(b)) return true;
    const f = this.top();
    if (!f) return false;
    if (b === 0x2c && this.canContinue(f)) {
      if (f.kind === 0x7b) this.mode = Mode.ObjKey;
      else { this.next = f.schema?.items ?? null; this.mode = Mode.Value; }
      return true;
    }
    if (((b === 0x7d && f.kind === 0x7b) || (b === 0x5d && f.kind === 0x5b)) && this.canClose(f)) {
      this.stack.pop();
      this.endValue();
      return true;
    }
    return false;
  }

  private startKey(): boolean {
    const f = this.top()!;
    this.strForms = this.keyForms(f);
    if (this.strForms && !this.strForms.length) return false;
    this.strIsKey = true;
    this.str = [];
    this.mode = Mode.Str;
    return true;
  }

  /** Appends a string byte, keeping only the allowed forms it still prefixes. */
  private strByte(b: number): boolean {
    if (this.strForms) {
      const i = this.str.length;
      const keep = this.strForms.filter((f) => f.length > i && f[i] === b);
      if (!keep.length) return false;
      this.strForms = keep;
    }
    this.str.push(b);
    return true;
  }

  private endString(): boolean {
    if (this.strForms && !this.strForms.some((f) => f.length === this.str.length)) return false;
    if (!this.strIsKey) { this.endValue(); return true; }
    const f = this.top()!;
    let key: string;
    try { key = JSON.parse(`"${new TextDecoder().decode(Uint8Array.from(this.str))}"`) as string; } catch { return false; }
    if (f.seen.includes(key)) return false; // duplicate keys make the object ambiguous
    f.seen.push(key);
    const s = f.schema;
    this.next = s?.properties?.[key] ?? (typeof s?.additionalProperties === 'object' ? s.additionalProperties : null);
    this.mode = Mode.Colon;
    return true;
  }

  private step(b: number): boolean {
    switch (this.mode) {
      case Mode.Value:
        return isWs(b) || this.startValue(b);
      case Mode.ArrOpen:
        if (isWs(b)) return true;
        if (b === 0x5d) return this.after(b);
        this.next = this.top()!.schema?.items ?? null;
        return this.startValue(b);
      case Mode.ObjOpen:
        if (isWs(b)) return true;
        if (b === 0x7d) return this.after(b);
        return b === 0x22 && this.startKey();
      case Mode.ObjKey:
        if (isWs(b)) return true;
        return b === 0x22 && this.startKey();
      case Mode.Colon:
        if (isWs(b)) return true;
        if (b !== 0x3a) return false;
        this.mode = Mode.Value;
        return true;
      case Mode.After:
        return this.after(b);
      case Mode.Str:
        if (b === 0x22) return this.endString();
        if (b < 0x20 || b === 0x7f) return false;
        if (!this.strByte(b)) return false;
        if (b === 0x5c) this.mode = Mode.Esc;
        return true;
      case Mode.Esc:
        if (!this.strByte(b)) return false;
        if (b === 0x75) { this.mode = Mode.Hex; this.hexLeft = 4; return true; }
        if ([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(b)) { this.mode = Mode.Str; return true; }
        return false;
      case Mode.Hex:
        if (!isHex(b) || !this.strByte(b)) return false;
        if (--this.hexLeft === 0) this.mode = Mode.Str;
        return true;
      case Mode.NumSign:
        if (b === 0x30) { this.mode = Mode.NumZero; return true; }
        if (b >= 0x31 && b <= 0x39) { this.mode = Mode.NumInt; return true; }
        return false;
      case Mode.NumZero:
      case Mode.NumInt:
        if (this.mode === Mode.NumInt && isDigit(b)) return true;
        if (!this.integer && b === 0x2e) { this.mode = Mode.NumDot; return true; }
        if (!this.integer && (b === 0x65 || b === 0x45)) { this.mode = Mode.NumExp; return true; }
        return this.endNumber(b);
      case Mode.NumDot:
        if (isDigit(b)) { this.mode = Mode.NumFrac; return true; }
        return false;
      case Mode.NumFrac:
        if (isDigit(b)) return true;
        if (b === 0x65 || b === 0x45) { this.mode = Mode.NumExp; return true; }
        return this.endNumber(b);
      case Mode.NumExp:
        if (b === 0x2b || b === 0x2d) { this.mode = Mode.NumExpSign; return true; }
        if (isDigit(b)) { this.mode = Mode.NumExpDigits; return true; }
        return false;
      case Mode.NumExpSign:
        if (isDigit(b)) { this.mode = Mode.NumExpDigits; return true; }
        return false;
      case Mode.NumExpDigits:
        if (isDigit(b)) return true;
        return this.endNumber(b);
      case Mode.Lit:
        if (b !== this.lit.charCodeAt(this.litPos)) return false;
        if (++this.litPos === this.lit.length) this.endValue();
        return true;
      case Mode.Done:
        return false; // only end-of-sequence may follow
    }
  }

  private endNumber(b: number): boolean {
    this.endValue();
    if (this.mode === Mode.Done) return false; // a bare top-level number has no terminator but EOS
    return this.after(b);
  }

  /** A short text that turns the current prefix into a complete value valid for the schema. */
  completion(): string {
    let s = '';
    const f = this.top();
    switch (this.mode) {
      case Mode.Done: return '';
      case Mode.Value:
        if (!this.started) return minimalValue(this.opts.object ? { ...this.opts.schema, type: 'object' } : this.next);
        s = minimalValue(this.next);
        if (f) f.count++;
        break;
      case Mode.ArrOpen: case Mode.ObjOpen: case Mode.After: break;
      case Mode.NumZero: case Mode.NumInt: case Mode.NumFrac: case Mode.NumExpDigits:
        if (!this.stack.length) return '';
        f!.count++;
        break;
      case Mode.ObjKey: s = this.memberText(f!); break;
      case Mode.Colon: s = `:${minimalValue(this.next)}`; f!.count++; break;
      case Mode.Str: case Mode.Esc: case Mode.Hex: {
        let rest = '';
        if (this.mode === Mode.Esc) rest = 'n';
        if (this.mode === Mode.Hex) rest = '0'.repeat(this.hexLeft);
        if (this.strForms) {
          const form = this.strForms.find((x) => x.length >= this.str.length)!;
          rest = new TextDecoder().decode(form.subarray(this.str.length));
        }
        s = `${rest}"`;
        if (this.strIsKey) {
          const key = JSON.parse(`"${new TextDecoder().decode(Uint8Array.from([...this.str, ...utf8.encode(rest)]))}"`) as string;
          f!.seen.push(key);
          const ps = f!.schema?.properties?.[key] ?? (typeof f!.schema?.additionalProperties === 'object' ? f!.schema.additionalProperties : null);
          s += `:${minimalValue(ps)}`;
        }
        if (this.stack.length) f!.count++;
        break;
      }
      case Mode.NumSign: case Mode.NumDot: case Mode.NumExp: case Mode.NumExpSign:
        s = '0';
        if (this.stack.length) f!.count++;
        break;
      case Mode.Lit:
        s = this.lit.slice(this.litPos);
        if (this.stack.length) f!.count++;
        break;
    }
    return s + this.closeAll();
  }

  /** Text of one more member for an object after ',' (a missing required key first). */
  private memberText(f: Frame): string {
    const sch = f.schema;
    const missing = (sch?.required ?? []).find((r) => !f.seen.includes(r));
    const free = Object.keys(sch?.properties ?? {}).find((k) => !f.seen.includes(k));
    const key = missing ?? free ?? (sch?.additionalProperties === false ? null : '_');
    if (key === null) return ''; // unreachable: ',' is refused when no member can follow
    f.seen.push(key);
    f.count++;
    const ps = sch?.properties?.[key] ?? (typeof sch?.additionalProperties === 'object' ? sch.additionalProperties : null);
    return `${JSON.stringify(key)}:${minimalValue(ps)}`;
  }

  private closeAll(): string {
    let s = '';
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const f = this.stack[i]!;
      if (f.kind === 0x7b) {
        for (const r of f.schema?.required ?? []) {
          if (f.seen.includes(r)) continue;
          s += `${f.count ? ',' : ''}${JSON.stringify(r)}:${minimalValue(f.schema?.properties?.[r] ?? null)}`;
          f.seen.push(r);
          f.count++;
        }
        s += '}';
      } else {
        for (let n = f.count; n < (f.schema?.minItems ?? 0); n++) s += `${n ? ',' : ''}${minimalValue(f.schema?.items ?? null)}`;
        s += ']';
      }
      if (i > 0) this.stack[i - 1]!.count++;
    }
    return s;
  }
}

/** The shortest value a schema admits (required members included). */
export function minimalValue(s: JsonSchema | null): string {
  if (!s) return 'null';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum) && s.enum.length) return JSON.stringify(s.enum[0]);
  const types = typesOf(s);
  const pick: JType = !types ? 'null' : (['null', 'integer', 'number', 'boolean', 'string', 'array', 'object'] as JType[]).find((t) => types.has(t))!;
  switch (pick) {
    case 'null': return 'null';
    case 'integer': case 'number': return '0';
    case 'boolean': return 'false';
    case 'string': return '""';
    case 'array': return `[${Array.from({ length: s.minItems ?? 0 }, () => minimalValue(s.items ?? null)).join(',')}]`;
    case 'object': return `{${(s.required ?? []).map((r) => `${JSON.stringify(r)}:${minimalValue(s.properties?.[r] ?? null)}`).join(',')}}`;
  }
}

/** response_format json_object: any JSON object. */
export class JsonObjectConstraint extends JsonConstraint {
  constructor() {
    super({ object: true });
  }
}
