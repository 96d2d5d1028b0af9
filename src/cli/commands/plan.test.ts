// dsv32 plan as a user runs it (a real process, real files), and the SVG plot helper it draws with.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configsDir, repoRoot } from '../../testing/fixtures.js';
import { formatCompact, niceTicks, PlotError, renderSvg } from '../plot.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });
const v32File = join(configsDir, 'deepseek-v3.2.json');

/** Well-formedness: one root, balanced and properly nested tags, quoted attributes, escaped text. */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const [, close, name, , selfClose, text, stray] = m;
    if (stray) throw new Error(`stray "<" at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`unescaped & in text: ${text.slice(0, 40)}`);
      if (!stack.length && text.trim()) throw new Error(`text outside the root: ${text.slice(0, 40)}`);
      continue;
    }
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> does not close the open element`);
    } else {
      if (!stack.length) roots++;
      if (!selfClose) stack.push(name!);
    }
  }
  assert.equal(stack.length, 0, `unclosed: ${stack.join(' > ')}`);
  assert.equal(roots, 1, 'exactly one root element');
}

describe('dsv32 plan (CLI)', () => {
  it('671B config: text report with parameters, cache bytes and the dense/DSA ratio', () => {
    const r = cli(['plan', '--config', v32File]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /671\.88B total; 37\.48B activated per token without the embedding lookup \(38\.40B with it\), of which 851\.52M lightning indexers/);
    assert.match(r.stdout, /without the indexers: 36\.63B activated — the count DeepSeek's published "37B activated" \(pre-DSA\)/);
    assert.match(r.stdout, /656 B MLA latent \+ 132 B indexer keys per layer × 61 = 48,068 B/);
    assert.match(r.stdout, /context 131,072 tokens × batch 1/);
    assert.match(r.stdout, /at position 131,072: dense\/DSA cost ratio 9\.\d\d× for decode, 3\.\d\d× for prefill/);
    assert.match(r.stdout, /of which indexer scoring 131\.0 \(\d\d%\)/);
    assert.match(r.stdout, /per token \(GFLOP of matmul FLOPs/);
    for (const pos of ['0', '4,096', '32,768', '131,072']) assert.match(r.stdout, new RegExp(`^\\s+${pos}\\s+\\d`, 'm'));
  });

  it('--json has the documented shape; a folder with config.json works; --plot writes a valid SVG with both curves per phase', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-plan-'));
    copyFileSync(v32File, join(dir, 'config.json'));
    const svg = join(dir, 'cost.svg');
    const r = cli(['plan', '--config', dir, '--json', '--context', '131072', '--batch', '2', '--plot', svg]);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      params: Record<string, number>; kv_bytes_per_token: number;
      flops: { position: number; prefill: Record<string, number>; decode: Record<string, number> };
      weights_bytes: { main: { total: number }; mtp: { total: number } }; cache_bytes: { total: number; batch: number };
    };
    for (const k of ['total', 'activated', 'mtp']) assert.equal(typeof j.params[k], 'number', `params.${k}`);
    assert.ok(Math.abs(j.params.total! - 671e9) < 0.01 * 671e9);
    assert.equal(j.kv_bytes_per_token, 48068);
    assert.equal(j.flops.position, 131072);
    for (const ph of [j.flops.prefill, j.flops.decode]) assert.ok(ph.dense! > ph.dsa! && ph.dsa! > 0);
    assert.ok(j.flops.decode.dense! / j.flops.decode.dsa! > 5);
    assert.equal(j.cache_bytes.total, 2 * 131072 * 48068);
    assert.ok(j.weights_bytes.main.total > 6.7e11 && j.weights_bytes.mtp.total > 1e10);

    const text = readFileSync(svg, 'utf8');
    assertWellFormedXml(text);
    assert.match(text, /^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const t of ['Prefill (MHA mode)', 'Decode (MQA mode)']) assert.ok(text.includes(t), t);
    assert.equal(text.match(/<path [^>]*><title>dense attention<\/title>/g)?.length, 3);
    assert.equal(text.match(/<path [^>]*><title>DSA \(top-k 2048\)<\/title>/g)?.length, 3);
    assert.ok(text.includes('>128K<'), 'token-position ticks');
  });

  it('deepseek_v3 configs plan with DSA = dense', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv32-plan-v3-'));
    const raw = JSON.parse(readFileSync(v32File, 'utf8')) as Record<string, unknown>;
    for (const k of ['index_n_heads', 'index_head_dim', 'index_topk']) delete raw[k];
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...raw, model_type: 'deepseek_v3' }));
    const r = cli(['plan', '--config', join(dir, 'config.json'), '--json', '--context', '65536', '--dtype', 'bf16']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { flops: { decode: { dense: number; dsa: number } }; kv_bytes_per_token: number };
    assert.equal(j.flops.decode.dense, j.flops.decode.dsa);
    assert.equal(j.kv_bytes_per_token, 656 * 61);
  });

  it('bad input: clear message and exit code 1; past max positions: a warning', () => {
    const cases: [string[], RegExp][] = [
      [['--dtype', 'int4'], /--dtype: must be one of fp8, bf16, f32, q8/],
      [['--kv-dtype', 'f32'], /--kv-dtype: must be one of fp8, bf16/],
      [['--context', '-5'], /--context: must be ≥ 0/],
      [['--context', '12k'], /--context: "12k" is not an integer/],
      [['--batch', '0'], /--batch: must be ≥ 1/],
    ];
    for (const [args, re] of cases) {
      const r = cli(['plan', '--config', v32File, ...args]);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, re);
    }
    const missing = cli(['plan', '--config', '/nonexistent/model']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no such file/);
    const far = cli(['plan', '--config', v32File, '--context', '200000', '--json']);
    assert.equal(far.status, 0);
    assert.match(far.stderr, /warning: context 200000 is at or beyond max_position_embeddings \(163840\)/);
  });
});

describe('plot helper', () => {
  it('renders panels with series, legend, axis labels, ticks; escapes text', () => {
    const svg = renderSvg({
      title: 'loss & accuracy <test>',
      columns: 1,
      panels: [
        { title: 'loss', xLabel: 'step', yLabel: 'loss', yScale: 'log', series: [{ name: 'train', points: [[0, 10], [50, 1], [100, 0.2]] }, { name: 'held-out', points: [[0, 11], [100, 0.5]], dash: '5 3' }] },
        { title: 'tokens/s', xLabel: 'threads', series: [{ name: 'decode', points: [[1, 3], [2, 5.5], [4, 9]] }], markers: [{ x: 2, label: 'cores' }], legend: 'bottom-right' },
      ],
    });
    assertWellFormedXml(svg);
    assert.ok(svg.includes('loss &amp; accuracy &lt;test&gt;'));
    assert.equal(svg.match(/<path /g)?.length, 3);
    for (const s of ['>train<', '>held-out<', '>decode<', '>step<', '>threads<', '>cores<', 'stroke-dasharray="5 3"']) assert.ok(svg.includes(s), s);
    for (const t of ['>0.1<', '>1<', '>10<']) assert.ok(svg.includes(t), `log tick ${t}`);
    // two panels in one column: taller than wide
    const [, w, h] = svg.match(/width="(\d+)" height="(\d+)"/)!;
    assert.ok(Number(h) > Number(w));
  });

  it("places the legend in the corner the lines leave free", () => {
    const legendX = (pts: [number, number][]) => Number(renderSvg({ panels: [{ yMax: 10, series: [{ name: 's', points: pts }] }] }).match(/<rect x="([\d.]+)"[^>]*fill-opacity="0.9"/)![1]);
    const frameMid = 84 + 440 / 2;
    assert.ok(legendX([[0, 0], [10, 10]]) < frameMid, 'rising line: top-left is free');
    assert.ok(legendX([[0, 10], [10, 0]]) > frameMid, 'falling line: top-left is taken');
  });

  it('ticks and number formats', () => {
    assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(0, 1, 4), [0, 0.5, 1]);
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 0.9, 3), [0, 0.5]);
    assert.equal(formatCompact(131072), '131K');
    assert.equal(formatCompact(2.5e9), '2.5G');
    assert.equal(formatCompact(0.25), '0.25');
  });

  it('rejects what it cannot draw', () => {
    assert.throws(() => renderSvg({ panels: [] }), PlotError);
    assert.throws(() => renderSvg({ panels: [{ series: [] }] }), /no series/);
    assert.throws(() => renderSvg({ panels: [{ series: [{ name: 'a', points: [] }] }] }), /series "a": no points/);
    assert.throws(() => renderSvg({ panels: [{ series: [{ name: 'a', points: [[0, NaN]] }] }] }), /non-finite point/);
    assert.throws(() => renderSvg({ panels: [{ yScale: 'log', series: [{ name: 'a', points: [[0, 0]] }] }] }), /cannot be drawn on a log scale/);
  });
});
