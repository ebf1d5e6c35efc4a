import { readFileSync } from 'node:fs';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, Span, TextMapGetter, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { TracingConfig } from './config.js';

/**
 * OpenTelemetry tracing, handed around explicitly: the operation span's context travels
 * in the request's CallContext down to UpstreamHttp, so no global tracer provider, context
 * manager or AsyncLocalStorage is involved (and two gateways in one test process do not
 * share a tracer). When OTEL_EXPORTER_OTLP_ENDPOINT is unset there is no Tracing at all:
 * the SDK and the exporter are never loaded and no hook runs on the request path.
 */
export interface Tracing {
  readonly tracer: Tracer;
  /** The caller's trace (a `traceparent` header) to continue, or the root context. */
  extract(headers: Headers): Context;
  /** Writes `traceparent` (and `tracestate`) for `span` into an outgoing request's headers. */
  inject(span: Span, headers: Record<string, string>): void;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

const headersGetter: TextMapGetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => [...carrier.keys()],
};

export function createTracing(tracer: Tracer, shutdown: () => Promise<void> = () => Promise.resolve()): Tracing {
  const propagator = new W3CTraceContextPropagator();
  return {
    tracer,
    extract: (headers) => propagator.extract(ROOT_CONTEXT, headers, headersGetter),
    inject(span, headers) {
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, {
        set: (carrier, key, value) => void (carrier[key] = value),
      });
    },
    shutdown,
  };
}

/** The OpenTelemetry SDK with a batching OTLP/HTTP exporter, loaded only when tracing is configured. */
export async function startTracing(config: TracingConfig): Promise<Tracing> {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const [sdk, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': version }),
    // A caller's sampling decision (the `traceparent` flag) is followed; new traces by ratio.
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl, headers: config.headers })),
    ],
  });
  return createTracing(provider.getTracer('npm-axis-gateway', version), () => provider.shutdown());
}
