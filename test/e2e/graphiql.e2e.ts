import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema } from 'graphql';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from './demo-process.js';
import type { DemoProcess } from './demo-process.js';

/**
 * GraphiQL as someone opening `npm run demo` sees it, in Debian's Chromium (never a browser
 * downloaded by a tool): served from the package with nothing fetched from elsewhere, opening
 * on the dashboard query, running what is typed into it with the demo admin key, and
 * documenting the schema. GraphiQL 5 (render-graphiql 5.24) edits in Monaco; the selectors are
 * GraphiQL's own class names and aria labels.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../test-results/graphiql.png', import.meta.url));
const DEMO_ADMIN_KEY = 'demo-admin-key-0123456789abcdef';
const EXAMPLE_QUERY = '{ azureStatus { enabled state } users(pageSize: 2) { totalRecords nodes { userName } } }';
const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

interface Seen {
  url: string;
  kind: 'request' | 'websocket' | 'worker';
}

let demo: DemoProcess;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const seen: Seen[] = [];
const failed: string[] = [];

/** Monaco draws spaces as U+00A0 and lines as divs; compare text as a reader sees it. */
const readable = (text: string) => text.replace(/\u00a0/g, ' ').trim();
const editorText = async (pane: '.graphiql-query-editor' | '.graphiql-response') =>
  readable(await page.locator(`${pane} .view-lines`).innerText());

/**
 * Replaces the editor's document by typing it, as a person would, and waits until GraphiQL
 * has taken it in: the tab shows `tabTitle` (the operation's name, `<untitled>` when it has
 * none). GraphiQL re-reads the operation name a moment after an edit; run before that and
 * it asks for the old one ("Cannot infer operation Dashboard").
 */
async function typeDocument(text: string, tabTitle: string): Promise<void> {
  await page.locator('.graphiql-query-editor .monaco-editor').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(text);
  // Monaco closes brackets as they are typed. The typed closers overtype the automatic
  // ones, except for the first `{` (typed over the selection): its `}` stays behind the
  // cursor. Drop what is left after the cursor so the editor holds exactly the text.
  await page.keyboard.press('Shift+ControlOrMeta+End');
  await page.keyboard.press('Delete');
  await expect.poll(() => editorText('.graphiql-query-editor'), { timeout: 10_000 }).toBe(text);
  await expect.poll(() => page.locator('.graphiql-tab-button').innerText(), { timeout: 10_000 }).toBe(tabTitle);
}

/** Same origin as the gateway, or a URL that is not fetched from a network at all. */
function isLocal(url: string, origin: string): boolean {
  const parsed = new URL(url);
  if (parsed.protocol === 'data:' || parsed.protocol === 'about:') return true;
  // A blob: URL's origin is the page that made it (Monaco's workers are blobs).
  return parsed.origin === origin;
}

beforeAll(async () => {
  demo = await startDemo();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      // Every host but the demo's resolves to nothing: should GraphiQL ever reach for a CDN,
      // the request is still recorded (and fails the test below) but never leaves this machine.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // The context sees requests of the page and of its workers (checked: a fetch made inside
  // a Monaco worker is reported here); websockets and workers are recorded on their own.
  context.on('request', (r) => seen.push({ url: r.url(), kind: 'request' }));
  context.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText ?? '?'}`));
  page = await context.newPage();
  page.on('websocket', (ws) => seen.push({ url: ws.url(), kind: 'websocket' }));
  page.on('worker', (w) => seen.push({ url: w.url(), kind: 'worker' }));

  // GraphiQL is loaded once schema introspection (its first POST) has answered.
  const [introspection] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${demo.origin}/graphql` && r.request().method() === 'POST'),
    page.goto(`${demo.origin}/graphql`),
  ]);
  expect(introspection.status()).toBe(200);
  await page.locator('.graphiql-execute-button').waitFor();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('GraphiQL in Chromium, served by npm run demo', () => {
  it('loads with every request on the gateway origin (or data:/blob:/about:)', () => {
    const urls = seen.map((s) => `${s.kind} ${s.url}`);
    // The page, the introspection POST, Monaco's blob workers: a check over nothing proves nothing.
    expect(urls).toContain(`request ${demo.origin}/graphql`);
    expect(seen.filter((s) => s.kind === 'worker').length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.filter((s) => !isLocal(s.url, demo.origin)).map((s) => `${s.kind} ${s.url}`)).toEqual([]);
    expect(failed).toEqual([]);
  });

  it('opens with the dashboard query as its default document', async () => {
    const text = await editorText('.graphiql-query-editor');
    expect(text).toContain('query Dashboard {');
    expect(text).toContain('azureStatus { enabled state lastSyncAt }');
    expect(await page.locator('.graphiql-tab-button').innerText()).toBe('Dashboard');
  });

  it('runs a query typed into the editor, with the demo admin key, and shows the simulators data', async () => {
    await typeDocument(EXAMPLE_QUERY, '<untitled>');

    // Back to the line's start, so the screenshot shows the query from its beginning.
    await page.keyboard.press('Home');

    // GraphiQL sends the document minified.
    const sent = context.waitForEvent(
      'request',
      (r) => r.method() === 'POST' && (r.postData() ?? '').includes('users(pageSize:2)'),
    );
    await page.locator('.graphiql-execute-button').click();
    const request = await sent;
    expect(request.headers()['authorization']).toBe(`Bearer ${DEMO_ADMIN_KEY}`);

    await expect.poll(() => editorText('.graphiql-response'), { timeout: 30_000 }).toContain('"totalRecords": 120');
    const result = await editorText('.graphiql-response');
    expect(result).toContain('"state": "SYNC_SUCCEEDED"');
    expect(result).toMatch(/"userName": "[a-z]+\.[a-z]+"/);
    expect(result).not.toContain('"errors"');

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  it('runs the azureStatus subscription over SSE and shows the live status', async () => {
    const subscription = 'subscription LiveStatus { azureStatus { enabled state } }';
    await typeDocument(subscription, 'LiveStatus');

    // GraphiQL subscribes with a GET for text/event-stream, its headers (the key) included.
    const sent = context.waitForEvent(
      'request',
      (r) => r.url().startsWith('http') && new URL(r.url()).searchParams.get('operationName') === 'LiveStatus',
    );
    await page.locator('.graphiql-execute-button').click();
    const request = await sent;
    expect(request.method()).toBe('GET');
    expect(request.headers()['accept']).toContain('text/event-stream');
    expect(request.headers()['authorization']).toBe(`Bearer ${DEMO_ADMIN_KEY}`);
    await expect
      .poll(() => editorText('.graphiql-response'), { timeout: 30_000 })
      .toContain('"state": "SYNC_SUCCEEDED"');
    expect(await editorText('.graphiql-response')).not.toContain('"errors"');
    // The same button stops the subscription: the browser aborts the stream, which is the
    // one request failure this session expects.
    await page.locator('.graphiql-execute-button').click();
    const aborted = `${request.url()}: net::ERR_ABORTED`;
    await expect.poll(() => failed.includes(aborted), { timeout: 10_000 }).toBe(true);
    failed.splice(failed.indexOf(aborted), 1);
  });

  it('documents every Query field, each with its description, in the Docs explorer', async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const explorer = page.locator('.graphiql-doc-explorer');
    await explorer.locator('a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).click();
    await expect
      .poll(() => explorer.locator('.graphiql-doc-explorer-title').innerText(), { timeout: 10_000 })
      .toBe('Query');

    const items = explorer.locator('.graphiql-doc-explorer-item');
    const shown = await items.evaluateAll((els) =>
      els.map((el) => ({
        name: el.querySelector('.graphiql-doc-explorer-field-name')?.textContent ?? '',
        description: el.querySelector('.graphiql-markdown-description')?.textContent?.trim() ?? '',
      })),
    );
    const fields = Object.keys(schema.getQueryType()?.getFields() ?? {});
    expect(fields.length).toBeGreaterThan(0);
    expect(shown.map((f) => f.name)).toEqual(fields);
    expect(shown.filter((f) => f.description === '').map((f) => f.name)).toEqual([]);
    expect(shown.find((f) => f.name === 'azureStatus')?.description).toBe(
      'Azure synchronisation status of the Riverbed NPM appliance (NPM GET /status).',
    );
  });

  it('made no request beyond the gateway during the whole session', () => {
    const byOrigin = new Map<string, number>();
    for (const s of seen) {
      const key = `${s.kind} ${new URL(s.url).protocol === 'blob:' ? 'blob:' : new URL(s.url).origin}`;
      byOrigin.set(key, (byOrigin.get(key) ?? 0) + 1);
    }
    // In the CI log, so a reader sees the check was over real traffic.
    console.info(`GraphiQL session: ${seen.length} requests/workers`, Object.fromEntries(byOrigin));
    expect(seen.filter((s) => !isLocal(s.url, demo.origin)).map((s) => `${s.kind} ${s.url}`)).toEqual([]);
    expect(failed).toEqual([]);
  });
});
