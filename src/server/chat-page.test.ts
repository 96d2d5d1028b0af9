// The chat page in headless Chromium (Debian's chromium driven by playwright-core) against a real
// server: a message gets a streamed answer, thinking shows in a collapsible block, a forced tool call is
// shown and its typed result continues the conversation. Leaves test-artifacts/chat.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../testing/fixtures.js';
import { startTestServer, type TestServer } from './testing.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot, 'test-artifacts');
// --headless comes from `headless: true` and --user-data-dir (fresh) from launchPersistentContext
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const haveChromium = existsSync(CHROMIUM);
let server: TestServer;
let context: BrowserContext;
let page: Page;
let profile: string;

before(async () => {
  if (!haveChromium) return;
  server = await startTestServer({ scaleHeadRows: { 8176: 6 } }); // </think> likely enough that thinking ends
  profile = mkdtempSync(join(tmpdir(), 'dsv32-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => console.error(`# page error: ${e.message}`));
});
after(async () => {
  await context?.close();
  await server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Sends a message and waits for the answer to finish; returns how often the answer's text changed. */
async function sendAndWait(text: string): Promise<number> {
  const before = await page.locator('.msg.assistant').count();
  await page.evaluate(() => {
    const w = window as unknown as { updates: number };
    w.updates = 0;
    new MutationObserver((ms) => { w.updates += ms.length; }).observe(document.getElementById('log')!, { subtree: true, characterData: true, childList: true });
  });
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
  await page.locator('.msg.assistant').nth(before).waitFor();
  await page.waitForFunction((n) => {
    const answers = document.querySelectorAll('.msg.assistant');
    return answers.length > n && !answers[answers.length - 1]!.classList.contains('streaming');
  }, before, { timeout: 20_000 });
  return page.evaluate(() => (window as unknown as { updates: number }).updates);
}

describe('chat page', { skip: haveChromium ? false : `no chromium binary at ${CHROMIUM} (apt-get install chromium)` }, () => {
  it('sends a message and shows the streamed answer with usage', async () => {
    await page.goto(server.url + '/');
    await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).options.length === 3);
    await page.selectOption('#model', 'deepseek-chat');
    await page.click('#settings summary');
    await page.fill('#max-tokens', '24');
    await page.click('#settings summary');
    const updates = await sendAndWait('Hello! Who are you?');
    const answer = page.locator('.msg.assistant').last();
    assert.ok((await answer.locator('.content').innerText()).length > 0);
    assert.match(await answer.locator('.usage').innerText(), /prompt tokens .* completion tokens/);
    assert.ok(updates > 3, `the answer arrived in pieces (${updates} DOM updates)`);
    assert.equal(await page.locator('.msg.user').first().innerText(), 'user\nHello! Who are you?');
  });

  it('shows reasoning in a collapsible block in thinking mode', async () => {
    await page.selectOption('#model', 'deepseek-reasoner');
    assert.ok(await page.isChecked('#thinking'));
    await sendAndWait('Why is the sky blue?');
    const think = page.locator('.msg.assistant').last().locator('details.thinking');
    await think.waitFor();
    assert.ok(((await think.locator('div').textContent()) ?? '').length > 0, 'reasoning text');
    assert.equal(await think.locator('summary').innerText(), 'Thought');
  });

  it('shows a tool call, takes its result and continues', async () => {
    await page.selectOption('#model', 'deepseek-chat');
    await page.click('#settings summary');
    await page.fill('#tools', JSON.stringify([{ type: 'function', function: { name: 'get_time', description: 'current time', parameters: { type: 'object', properties: {} } } }]));
    await page.fill('#tool-choice', 'get_time');
    await page.dispatchEvent('#tools', 'change');
    await sendAndWait('What time is it?');
    const call = page.locator('.msg.assistant').last().locator('.tool-call');
    assert.match(await call.innerText(), /get_time\(\{\}\)/);
    assert.match(await page.getAttribute('#input', 'placeholder') ?? '', /Result of get_time/);
    await sendAndWait('12:00');
    assert.match(await page.locator('.msg.tool').last().innerText(), /get_time → 12:00/);
    await page.fill('#tools', '');
    await page.fill('#tool-choice', '');
    await page.click('#settings summary');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'chat.png'), fullPage: true });
    assert.ok(existsSync(join(ARTIFACTS, 'chat.png')));
  });
});
