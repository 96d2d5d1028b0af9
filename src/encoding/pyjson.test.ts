import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat, pyFloatRepr, pyJsonDumps, pyJsonLoads, PyJsonError } from './pyjson.js';

// Expected strings below were produced by CPython 3 (repr / json.dumps(..., ensure_ascii=False)).
test('float repr matches CPython', () => {
  const cases: [number, string][] = [
    [1.0, '1.0'], [-1.0, '-1.0'], [0, '0.0'], [-0, '-0.0'], [0.1, '0.1'], [1e16, '1e+16'], [1e15, '1000000000000000.0'],
    [123456789012345678, '1.2345678901234568e+17'], [0.0001, '0.0001'], [1e-5, '1e-05'], [1.5e-7, '1.5e-07'], [100, '100.0'],
    [1.5e300, '1.5e+300'], [5e-324, '5e-324'], [2.5, '2.5'], [1 / 3, '0.3333333333333333'], [-123.456, '-123.456'],
    [9007199254740993, '9007199254740992.0'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [NaN, 'NaN'], [1e22, '1e+22'],
    [12345.678, '12345.678'],
  ];
  for (const [x, want] of cases) assert.equal(pyFloatRepr(x), want, String(x));
});

test('loads then dumps reproduces CPython json byte for byte', () => {
  const src = '{"b": 1, "2": [1.0, 1e5, 1E400, -0, -0.0, 12345678901234567890, true, null, "x\\u00e9\\n\\u0001\\"/"], "a": {"z": NaN, "": -Infinity}, "b": 3, "emoji": "😀\\ud83d\\ude00", "ctl": "\\u007f\\u2028"}';
  const want = '{"b": 3, "2": [1.0, 100000.0, Infinity, 0, -0.0, 12345678901234567890, true, null, "xé\\n\\u0001\\"/"], "a": {"z": NaN, "": -Infinity}, "emoji": "😀😀", "ctl": "\u007f\u2028"}';
  assert.equal(pyJsonDumps(pyJsonLoads(src)), want);
});

test('dumps of plain JS values uses Python separators and raw Unicode', () => {
  assert.equal(pyJsonDumps({ a: [1, 2.5, 'é\t'], b: { c: null, d: undefined }, e: 1e21 }), '{"a": [1, 2.5, "é\\t"], "b": {"c": null}, "e": 1000000000000000000000}');
  assert.equal(pyJsonDumps(new PyFloat(3)), '3.0');
  assert.equal(pyJsonDumps([]), '[]');
  assert.equal(pyJsonDumps({}), '{}');
});

test('bad JSON and unserializable values give clear errors', () => {
  for (const bad of ['', '{', '[1,]', '{"a" 1}', '"\n"', '01', 'tru', '{"a":1} x', '"\\x"', 'nul']) {
    assert.throws(() => pyJsonLoads(bad), PyJsonError, bad);
  }
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => pyJsonDumps(cyc), /circular/);
  assert.throws(() => pyJsonDumps({ f: () => 1 }), /not JSON serializable/);
  // "__proto__" is an ordinary key, not a prototype change.
  const o = pyJsonLoads('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.equal(pyJsonDumps(o), '{"__proto__": {"x": 1}}');
});
