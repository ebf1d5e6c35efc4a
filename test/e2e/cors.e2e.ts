import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from './demo-process.js';
import type { DemoProcess } from './demo-process.js';

/**
 * CORS as a browser meets it (Debian's Chromium): a frontend page on another loopback origin
 * calls `npm run demo`, started with CORS_ORIGINS naming that origin only, with the headers
 * a real frontend sends (a credential, JSON, W3C trace context), so the browser preflights.
 * A page on an unlisted origin is refused by the browser.
 */
const CHROMIUM = '/usr/bin/chromium';
const DEMO_VIEWER_KEY = 'demo-viewer-key-0123456789abcdef';

let listed: Server;
let unlisted: Server;
let demo: DemoProcess;
let browser: Browser;

async function frontend(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>frontend</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let listedOrigin: string;
let unlistedOrigin: string;

beforeAll(async () => {
  const a = await frontend();
  const b = await frontend();
  listed = a.server;
  unlisted = b.server;
  listedOrigin = a.origin;
  unlistedOrigin = b.origin;
  demo = await startDemo(60_000, { CORS_ORIGINS: listedOrigin });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  await Promise.all([listed, unlisted].map((s) => new Promise((resolve) => s?.close(resolve))));
});

/** What `fetch` from a page on `origin` gets from the gateway. */
async function fetchFrom(origin: string): Promise<{ status?: number; body?: unknown; error?: string }> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(origin);
    return await page.evaluate(
      async ({ url, key }) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
              tracestate: 'vendor=value',
            },
            body: JSON.stringify({ query: '{ users(pageSize: 1) { totalRecords } }' }),
          });
          return { status: res.status, body: (await res.json()) as unknown };
        } catch (err) {
          return { error: String(err) };
        }
      },
      { url: `${demo.origin}/graphql`, key: DEMO_VIEWER_KEY },
    );
  } finally {
    await context.close();
  }
}

describe('CORS in Chromium against npm run demo with CORS_ORIGINS', () => {
  it('a page on the listed origin reads the answer, trace headers and credential included', async () => {
    expect(await fetchFrom(listedOrigin)).toEqual({ status: 200, body: { data: { users: { totalRecords: 120 } } } });
  });

  it('a page on an unlisted origin is refused by the browser', async () => {
    const result = await fetchFrom(unlistedOrigin);
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/TypeError: Failed to fetch/);
  });
});
