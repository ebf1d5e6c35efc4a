import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { OPERATION_NAME_LIMIT, createMetrics } from '../../src/metrics.js';
import { startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's sample lines (`name{a="b",...} value`). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
function value(all: Sample[], name: string, match: Record<string, string> = {}): number {
  return all
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(stack: Stack, headers: Record<string, string> = {}) {
  const res = await request(`${stack.url}/metrics`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, samples: samples(text) };
}

describe('GET /metrics', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('serves Prometheus text without credentials, with per-operation and per-upstream series', async () => {
    const res = await stack.gql(
      'query Dashboard { azureStatus { state } azureAccounts { accId } users(pageSize: 2) { totalRecords } }',
    );
    expect(res.body.errors).toBeUndefined();
    const m = await scrape(stack);
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const op = { operationName: 'Dashboard', operationType: 'query' };
    expect(value(m.samples, 'graphql_envelop_request_duration_count', op)).toBe(1);
    expect(value(m.samples, 'graphql_yoga_http_duration_count', { ...op, method: 'POST', statusCode: '200' })).toBe(1);
    // One observation per upstream call, labelled by route name (never a URL or an id).
    for (const [upstream, route] of [
      ['npm', 'status.get'],
      ['npm', 'authCodes.get'],
      ['axis', 'users.list'],
      ['npm', 'token.post'],
    ] as const) {
      const labels = { upstream, route, outcome: 'ok' };
      expect(value(m.samples, 'gateway_upstream_request_duration_seconds_count', labels), route).toBe(1);
    }
    expect(value(m.samples, 'gateway_upstream_request_duration_seconds_count', { route: 'status.get' })).toBe(
      stack.calls()['npm:status.get'],
    );
    expect(value(m.samples, 'gateway_npm_token_refreshes_total', { outcome: 'success' })).toBe(1);
    expect(value(m.samples, 'gateway_upstream_circuit_state', { upstream: 'npm', state: 'closed' })).toBe(1);
    expect(value(m.samples, 'gateway_upstream_circuit_state', { upstream: 'axis', state: 'open' })).toBe(0);
    // No label is a URL.
    expect(m.samples.some((s) => 'url' in s.labels)).toBe(false);
  });

  it('times an anonymous operation as `anonymous` on both histograms, and introspection only as an HTTP request', async () => {
    const before = (await scrape(stack)).samples;
    expect((await stack.gql('{ azureStatus { state } }')).body.errors).toBeUndefined();
    await stack.gql('{ __schema { queryType { name } } }');
    await stack.gql('{ azureStatus { state } }', undefined, { authorization: '' }); // refused before parse
    const after = (await scrape(stack)).samples;
    const delta = (name: string, labels: Record<string, string>) =>
      value(after, name, labels) - value(before, name, labels);
    const anonymous = { operationName: 'anonymous', operationType: 'query' };
    expect(delta('graphql_envelop_request_duration_count', anonymous)).toBe(1);
    expect(delta('graphql_envelop_request_duration_count', {})).toBe(1);
    expect(delta('graphql_yoga_http_duration_count', { ...anonymous, method: 'POST' })).toBe(2);
    expect(delta('graphql_yoga_http_duration_count', {})).toBe(2);
  });

  it('counts errors by extensions.code, refused requests included', async () => {
    const before = (await scrape(stack)).samples;
    await stack.gql('{ azureStatus { state } }', undefined, { authorization: '' });
    await stack.gql('{ nope }');
    await stack.gql('mutation { setAzureSyncEnabled(enabled: true) { enabled } }', undefined, {
      authorization: 'Bearer viewer-key-under-test-0123456789abcdef',
    });
    const after = (await scrape(stack)).samples;
    const delta = (code: string) =>
      value(after, 'gateway_graphql_errors_total', { code }) - value(before, 'gateway_graphql_errors_total', { code });
    expect(delta('UNAUTHENTICATED')).toBe(1);
    expect(delta('GRAPHQL_VALIDATION_FAILED')).toBe(1);
    expect(delta('FORBIDDEN')).toBe(1);
    expect(value(after, 'gateway_graphql_errors_total', { code: 'FORBIDDEN', operation_type: 'mutation' })).toBe(1);
  });

  it('labels upstream failures, retries and an open circuit', async () => {
    stack.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'reset' } });
    const ok = await stack.gql('{ users(pageSize: 1) { totalRecords } }');
    expect(ok.body.errors).toBeUndefined();
    let m = await scrape(stack);
    expect(value(m.samples, 'gateway_upstream_retries_total', { upstream: 'axis', route: 'users.list' })).toBe(1);
    expect(
      value(m.samples, 'gateway_upstream_request_duration_seconds_count', {
        route: 'users.list',
        outcome: 'unavailable',
        status: 'none',
      }),
    ).toBe(1);

    stack.npmSim.addFault({ route: 'status.get', action: { type: 'error', status: 503 } });
    for (let i = 0; i < 3; i++) await stack.gql('{ azureStatus { state } }');
    m = await scrape(stack);
    expect(
      value(m.samples, 'gateway_upstream_request_duration_seconds_count', { route: 'status.get', status: '503' }),
    ).toBeGreaterThanOrEqual(5);
    expect(value(m.samples, 'gateway_upstream_circuit_state', { upstream: 'npm', state: 'open' })).toBe(1);
    expect(value(m.samples, 'gateway_upstream_circuit_state', { upstream: 'npm', state: 'closed' })).toBe(0);
    stack.npmSim.clearFaults();
  });

  it('keeps operation-name labels bounded and never shows ids or arguments', async () => {
    const userId = (
      (await stack.gql('{ users(pageSize: 1) { nodes { id } } }')).body.data as {
        users: { nodes: Array<{ id: string }> };
      }
    ).users.nodes[0]!.id;
    await stack.gql(`query One { user(id: "${userId}") { userName } }`);
    for (let i = 0; i < OPERATION_NAME_LIMIT + 20; i++) await stack.gql(`query Op${i} { azureStatus { enabled } }`);
    const m = await scrape(stack);
    const names = new Set(
      m.samples
        .filter((s) => s.name === 'graphql_envelop_request_duration_count')
        .map((s) => s.labels['operationName']),
    );
    expect(names.size).toBeLessThanOrEqual(OPERATION_NAME_LIMIT + 2);
    expect(names.has('other')).toBe(true);
    expect(
      value(m.samples, 'graphql_envelop_request_duration_count', { operationName: 'other' }),
    ).toBeGreaterThanOrEqual(20);
    expect(m.text).not.toContain(userId);
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  const TOKEN = 'metrics-token-under-test-42af';
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(() => stack.close());

  it('refuses a scrape without the bearer token, and serves it with the token', async () => {
    const missing = await scrape(stack);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await scrape(stack, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    // An API key is not a metrics token.
    expect((await scrape(stack, { authorization: 'Bearer admin-key-under-test-0123456789abcdef' })).status).toBe(401);
    const ok = await scrape(stack, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('gateway_upstream_circuit_state');
    expect(ok.text).not.toContain(TOKEN);
  });
});

describe('METRICS_ENABLED=false', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { METRICS_ENABLED: 'false' } });
  });
  afterAll(() => stack.close());

  it('serves no /metrics', async () => {
    expect((await scrape(stack)).status).toBe(404);
    expect(stack.metrics).toBeUndefined();
  });
});

describe('docs/grafana-dashboard.json', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('charts only metrics the gateway exports, grouped by labels they carry', async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as { panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }> };
    // Produce every series: an operation, an error, an upstream retry.
    stack.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'reset' } });
    await stack.gql('query Dashboard { azureStatus { state } users(pageSize: 1) { totalRecords } }');
    await stack.gql('{ nope }');
    const exported = [
      ...(await scrape(stack)).samples,
      // Process metrics are collected by the production server (startGateway).
      ...samples(await createMetrics({ processMetrics: true }).registry.metrics()),
    ];
    const charts = dashboard.panels.filter((p) => p.type !== 'row');
    expect(charts.length).toBeGreaterThanOrEqual(10);
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets ?? []) {
        const metric = /([a-z_:][a-z0-9_:]*)\{/.exec(expr)?.[1];
        expect(metric, expr).toBeDefined();
        const series = exported.filter((s) => s.name === metric);
        expect(series.length, `${panel.title}: ${metric} is not exported`).toBeGreaterThan(0);
        const grouped = (/by \(([^)]*)\)/.exec(expr)?.[1] ?? '')
          .split(',')
          .map((l) => l.trim())
          // `le` is the histogram's own; Prometheus adds `instance` and `job` to every series.
          .filter((l) => !['', 'le', 'instance', 'job'].includes(l));
        for (const label of grouped)
          expect(
            series.some((s) => label in s.labels),
            `${panel.title}: ${metric} has no label ${label}`,
          ).toBe(true);
      }
    }
  });
});
