import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTracing } from '../../src/tracing.js';
import { startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
/** `traceparent` headers the simulators received, per route. */
const received: Array<{ route: string; traceparent: string | undefined }> = [];
const record = (route: string, headers: Record<string, string | string[] | undefined>) =>
  void received.push({ route, traceparent: headers['traceparent'] as string | undefined });

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    tracing: createTracing(provider.getTracer('test')),
    npm: { onRequest: record },
    axis: { onRequest: record },
  });
});
afterAll(async () => {
  await stack.close();
  await provider.shutdown();
});
beforeEach(() => {
  exporter.reset();
  received.length = 0;
});

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('OpenTelemetry tracing', () => {
  it('records a span per operation and per upstream call, and sends traceparent upstream', async () => {
    const res = await stack.gql('query Dashboard { azureStatus { state } users(pageSize: 2) { totalRecords } }');
    expect(res.body.errors).toBeUndefined();
    const spans = exporter.getFinishedSpans();
    const server = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(server.map((s) => s.name)).toEqual(['query Dashboard']);
    const op = server[0]!;
    expect(op.attributes['graphql.operation.type']).toBe('query');
    expect(op.attributes['graphql.operation.name']).toBe('Dashboard');
    expect(op.attributes['http.response.status_code']).toBe(200);

    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    const routes = clients.map((s) => s.attributes['gateway.upstream.route']).sort();
    expect(routes).toEqual(['status.get', 'token.post', 'users.list']);
    const traceId = op.spanContext().traceId;
    for (const span of clients)
      expect(span.spanContext().traceId === traceId || parentOf(span) === undefined).toBe(true);
    // Calls made for the operation are its children; the shared NPM login belongs to no single request.
    for (const route of ['status.get', 'users.list']) {
      const span = clients.find((s) => s.attributes['gateway.upstream.route'] === route)!;
      expect(parentOf(span)).toBe(spanId(op));
      expect(span.attributes['http.response.status_code']).toBe(200);
      expect(span.attributes['url.full']).not.toContain('?');
      // The simulator got this span's context as its parent.
      const header = received.find((r) => r.route === route)?.traceparent;
      expect(header).toBe(`00-${traceId}-${spanId(span)}-01`);
    }
    // Nothing sensitive in any attribute: no tokens, no documents.
    const everything = JSON.stringify(spans.map((s) => s.attributes));
    expect(everything).not.toMatch(/Bearer|password|query Dashboard \{/);
  });

  it("continues the caller's trace from its traceparent header", async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    await stack.gql('{ azureStatus { enabled } }', undefined, { traceparent: `00-${callerTrace}-${callerSpan}-01` });
    const op = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(op.name).toBe('query');
    expect(op.spanContext().traceId).toBe(callerTrace);
    expect(parentOf(op)).toBe(callerSpan);
    expect(received.find((r) => r.route === 'status.get')?.traceparent).toMatch(new RegExp(`^00-${callerTrace}-`));
  });

  it('marks failed upstream attempts and the operation as errors, one span per retry', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'error', status: 502 } });
    const res = await stack.gql('query Users { users(pageSize: 1) { totalRecords } }');
    stack.axisSim.clearFaults();
    expect(res.body.errors?.[0]?.extensions?.['code']).toMatch(/^UPSTREAM_/);
    const spans = exporter.getFinishedSpans();
    const attempts = spans.filter((s) => s.attributes['gateway.upstream.route'] === 'users.list');
    expect(attempts).toHaveLength(3);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'] ?? 0)).toEqual([0, 1, 2]);
    for (const a of attempts) {
      expect(a.status.code).toBe(SpanStatusCode.ERROR);
      expect(a.attributes['http.response.status_code']).toBe(502);
      expect(a.attributes['error.type']).toBe('http');
    }
    // Each attempt sent its own span id upstream.
    const headers = received.filter((r) => r.route === 'users.list').map((r) => r.traceparent);
    expect(new Set(headers).size).toBe(3);
    const op = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(op.status.code).toBe(SpanStatusCode.ERROR);
    expect(op.attributes['graphql.error.codes']).toEqual([res.body.errors?.[0]?.extensions?.['code']]);
  });
});

describe('tracing off (the default)', () => {
  let plain: Stack;
  beforeAll(async () => {
    plain = await startStack({ npm: { onRequest: record } });
  });
  afterAll(() => plain.close());

  it('sends no traceparent upstream', async () => {
    received.length = 0;
    await plain.gql('{ azureStatus { enabled } }', undefined, {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
    expect(received.find((r) => r.route === 'status.get')).toEqual({ route: 'status.get', traceparent: undefined });
  });
});
