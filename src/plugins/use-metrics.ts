import { timingSafeEqual } from 'node:crypto';
import { isAsyncIterable } from '@envelop/core';
import { getOperationAST } from 'graphql';
import type { GraphQLError } from 'graphql';
import { createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { digest } from '../auth/api-keys.js';
import { codeOf } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { GatewayMetrics } from '../metrics.js';

export interface MetricsPluginOptions {
  metrics: GatewayMetrics;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  token: string | undefined;
  endpoint?: string;
}

/** Codes as clients see them (a subscription event's errors may not be masked yet: codeOf reads through). */
function codesOf(errors: readonly GraphQLError[] | undefined): ErrorCode[] {
  return errors?.length ? errors.map(codeOf) : [];
}

/**
 * Prometheus metrics: @graphql-yoga/plugin-prometheus times operations and their phases,
 * with every label bounded (no URL label, operation names through `operationLabel`); this
 * plugin adds errors by `extensions.code` and serves the registry, upstream and circuit
 * metrics included, at `GET /metrics`.
 *
 * Placed after useErrorCodes, so every error it counts already has its code.
 */
export function useMetrics({ metrics, token, endpoint = '/metrics' }: MetricsPluginOptions): Plugin {
  const { registry } = metrics;
  const expected = token === undefined ? undefined : digest(token);
  const labels = (p: FillLabelsFnParams) => ({
    operationName: metrics.operationLabel(p.operationName),
    operationType: p.operationType ?? 'unknown',
  });
  const operationTypes = new WeakMap<Request, string>();

  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        usePrometheus({
          registry,
          endpoint: false,
          skipIntrospection: true,
          metrics: {
            // Per operation: one duration histogram (its _count is the operation count).
            graphql_envelop_request_duration: createHistogram<
              'execute' | 'subscribe',
              'operationName' | 'operationType'
            >({
              registry,
              histogram: {
                name: 'graphql_envelop_request_duration',
                help: 'Duration of whole GraphQL operations (execute, or subscribe for subscriptions), seconds',
                labelNames: ['operationName', 'operationType'],
              },
              fillLabelsFn: labels,
              phases: ['execute', 'subscribe'],
            }),
            graphql_yoga_http_duration: createHistogram({
              registry,
              histogram: {
                name: 'graphql_yoga_http_duration',
                help: 'HTTP requests to the GraphQL endpoint, from arrival to response headers, seconds',
                labelNames: ['operationName', 'operationType', 'method', 'statusCode'] as const,
              },
              fillLabelsFn: (p, ctx: { request: Request; response: Response }) => ({
                ...labels(p),
                method: ctx.request.method,
                statusCode: ctx.response.status,
              }),
            }),
            // Off. The request counter and the parse/validate/execute phases: each observation
            // costs CPU on every request (all six of them took a third more CPU on the cheapest
            // query, bench/results.md), and the duration histogram's _count already counts
            // operations, while parse and validate are cached per document. A summary per
            // instance cannot be aggregated, the error counter's `path` label is unbounded
            // (list indexes), and the schema never changes at run time.
            graphql_envelop_request: false,
            graphql_envelop_phase_parse: false,
            graphql_envelop_phase_validate: false,
            graphql_envelop_phase_execute: false,
            graphql_envelop_request_time_summary: false,
            graphql_envelop_error_result: false,
            graphql_envelop_deprecated_field: false,
            graphql_envelop_schema_change: false,
            graphql_envelop_phase_context: false,
            graphql_envelop_phase_subscribe: false,
            graphql_envelop_execute_resolver: false,
          },
        }) as Plugin,
      );
    },
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (expected !== undefined) {
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
          endResponse(
            new fetchAPI.Response('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n', {
              status: 401,
              headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' },
            }),
          );
          return;
        }
      }
      return registry.metrics().then((text) => {
        endResponse(
          new fetchAPI.Response(request.method === 'HEAD' ? null : text, {
            headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
          }),
        );
      });
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const operation = getOperationAST(args.document, args.operationName)?.operation ?? 'unknown';
      if (request !== undefined) operationTypes.set(request, operation);
    },
    onSubscribe({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (request !== undefined) operationTypes.set(request, 'subscription');
      return {
        onSubscribeResult() {
          return {
            onNext({ result }) {
              metrics.graphqlErrors(codesOf(result.errors), 'subscription');
            },
          };
        },
      };
    },
    onResultProcess({ request, result }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const codes = codesOf(result.errors);
      if (codes.length > 0) metrics.graphqlErrors(codes, operationTypes.get(request) ?? 'unknown');
    },
  };
}
