// Python `json.dumps(value, ensure_ascii=False)` / `json.loads` compatibility, because the official
// V3.2 encoder writes JSON with Python: separators ", " and ": ", raw Unicode, floats printed by
// repr() ("1.0", "1e+16"), NaN/Infinity allowed. A JS number cannot tell 1.0 from 1, so pyJsonLoads
// keeps float-ness (PyFloat), big integers (bigint) and key order (for integer-like keys, which JS
// objects would move to the front) so that loads → dumps reproduces Python byte for byte.

/** A number that was written as a float in the JSON text (Python float). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Non-enumerable key order recorded by pyJsonLoads on each object it creates. */
export const PY_KEY_ORDER: unique symbol = Symbol('pyKeyOrder');

export class PyJsonError extends Error {
  override name = 'PyJsonError';
}

/** Python's repr() of a float. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() gives the shortest round-trip digits, like Python's repr.
  const [mant, expStr] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  const sign = x < 0 ? '-' : '';
  if (exp >= 16 || exp < -4) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1) || '0';
  return `${sign}${intPart}.${frac}`;
}

/** Python's json string literal with ensure_ascii=False. */
export function pyJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x08: out += '\\b'; break;
      case 0x0c: out += '\\f'; break;
      default: out += `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return out + s.slice(start) + '"';
}

/** Keys of an object in the order Python would iterate it (recorded by pyJsonLoads, else JS order). */
export function pyKeys(obj: Record<string, unknown>): string[] {
  const recorded = (obj as { [PY_KEY_ORDER]?: string[] })[PY_KEY_ORDER];
  const own = Object.keys(obj);
  if (!recorded) return own;
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const k of recorded) if (Object.hasOwn(obj, k) && !seen.has(k)) { seen.add(k); keys.push(k); }
  for (const k of own) if (!seen.has(k)) keys.push(k);
  return keys;
}

/** Python json.dumps(value, ensure_ascii=False). Keys whose value is undefined are left out (as JSON.stringify does). */
export function pyJsonDumps(value: unknown): string {
  const stack = new Set<object>();
  const dump = (v: unknown, path: string): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean': return v ? 'true' : 'false';
      case 'string': return pyJsonString(v);
      // Integral JS numbers are Python ints (printed in full, never "1e+21"); the rest are floats.
      case 'number': return Number.isInteger(v) ? BigInt(v).toString() : pyFloatRepr(v);
      case 'bigint': return v.toString();
      case 'object': break;
      default: throw new PyJsonError(`${typeof v} at ${path} is not JSON serializable`);
    }
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (stack.has(v as object)) throw new PyJsonError(`circular reference at ${path}`);
    stack.add(v as object);
    let out: string;
    if (Array.isArray(v)) {
      out = `[${v.map((x, i) => dump(x, `${path}[${i}]`)).join(', ')}]`;
    } else {
      const obj = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of pyKeys(obj)) {
        if (obj[k] === undefined) continue;
        parts.push(`${pyJsonString(k)}: ${dump(obj[k], `${path}.${k}`)}`);
      }
      out = `{${parts.join(', ')}}`;
    }
    stack.delete(v as object);
    return out;
  };
  return dump(value, '$');
}

/** Python json.loads: strict JSON plus NaN/Infinity/-Infinity; floats → PyFloat, unsafe ints → bigint. */
export function pyJsonLoads(text: string): unknown {
  let i = 0;
  const n = text.length;
  const fail = (msg: string): never => {
    throw new PyJsonError(`${msg} at offset ${i}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const literal = (word: string, val: unknown): unknown => {
    if (text.startsWith(word, i)) { i += word.length; return val; }
    return fail('unexpected token');
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(start, i); i++; return out; }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default: i -= 2; fail('bad escape');
      }
      start = i;
    }
  };
  const num = (): unknown => {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('bad number');
    i += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return new PyFloat(Number(m[0]));
    const asNum = Number(m[0]);
    return Number.isSafeInteger(asNum) ? (asNum === 0 ? 0 : asNum) : BigInt(m[0]);
  };
  const value = (depth: number): unknown => {
    if (depth > 1000) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const order: string[] = [];
      ws();
      if (text[i] === '}') { i++; }
      else for (;;) {
        ws();
        if (text[i] !== '"') fail('expected string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        const v = value(depth + 1);
        // Python dicts keep a repeated key at its first position with the last value.
        if (!Object.hasOwn(obj, k)) order.push(k);
        Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; break; }
        fail("expected ',' or '}'");
      }
      Object.defineProperty(obj, PY_KEY_ORDER, { value: order, enumerable: false });
      return obj;
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    if (c === 'N') return literal('NaN', new PyFloat(NaN));
    if (c === 'I') return literal('Infinity', new PyFloat(Infinity));
    if (c === '-' && text.startsWith('-Infinity', i)) return literal('-Infinity', new PyFloat(-Infinity));
    return num();
  };
  const v = value(0);
  ws();
  if (i < n) fail('extra data');
  return v;
}

/** Whether text is one JSON value by Python's json.loads. */
export function isPyJson(text: string): boolean {
  try {
    pyJsonLoads(text);
    return true;
  } catch {
    return false;
  }
}
