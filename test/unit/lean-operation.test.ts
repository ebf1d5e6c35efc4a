import type { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createLeanOperation } from '../../src/front/lean-operation.js';
import type { YogaOperationInternals } from '../../src/front/lean-operation.js';

/**
 * The lean operation against Yoga's own handleParams, with the same plugins on one Yoga
 * instance: every hook call, in order, and the answer must be the same on both.
 */

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query {
      hello(name: String): String
      fail: String
    }
    type Subscription {
      ticks: Int
    }
  `,
  resolvers: {
    Query: {
      hello: (_: unknown, { name }: { name?: string }, ctx: { greeting?: string }) =>
        `${ctx.greeting ?? 'hello'} ${name ?? 'world'}`,
      fail: () => {
        throw new Error('secret internals');
      },
    },
    Subscription: {
      ticks: {
        subscribe: async function* () {
          yield { ticks: 1 };
          yield { ticks: 2 };
        },
      },
    },
  },
});

type Log = string[];

/** A plugin that records its onExecute and onExecuteDone calls, optionally async, optionally acting. */
function recorder(
  name: string,
  log: Log,
  act: {
    async?: boolean;
    stop?: boolean;
    extend?: unknown;
    replaceResult?: boolean;
    stream?: boolean;
  } = {},
): Plugin {
  return {
    onExecute({ setResultAndStopExecution, extendContext }) {
      log.push(`${name}:execute`);
      if (act.extend !== undefined) extendContext(act.extend as Record<string, unknown>);
      if (act.stop) setResultAndStopExecution({ data: { hello: `stopped by ${name}` } });
      const after = {
        onExecuteDone({ result, setResult }: { result: unknown; setResult(next: unknown): void }) {
          log.push(`${name}:done`);
          if (act.replaceResult && !isStream(result)) {
            setResult({ ...(result as object), extensions: { by: name } });
          }
          if (act.stream) {
            return {
              onNext({ result: value, setResult: setValue }: { result: unknown; setResult(next: unknown): void }) {
                log.push(`${name}:next`);
                setValue({ ...(value as object), extensions: { seenBy: name } });
              },
              onEnd() {
                log.push(`${name}:end`);
              },
            };
          }
          return undefined;
        },
      };
      return act.async ? Promise.resolve(after) : after;
    },
  } as Plugin;
}

function isStream(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

async function settle(result: unknown): Promise<unknown> {
  const value = await result;
  if (!isStream(value)) return value;
  const items: unknown[] = [];
  for await (const item of value) items.push(item);
  return { stream: items };
}

/** Runs one request's params through Yoga's handleParams and through the lean operation. */
async function both(
  plugins: (log: Log) => Plugin[],
  params: { query: string; variables?: Record<string, unknown>; operationName?: string },
): Promise<{ yoga: { log: Log; result: unknown }; lean: { log: Log; result: unknown } }> {
  const run = async (lean: boolean) => {
    const log: Log = [];
    const yoga = createYoga({ schema, plugins: plugins(log), logging: false });
    const internals = yoga as unknown as YogaOperationInternals & {
      handleParams(payload: { request: unknown; params: unknown; context: unknown }): unknown;
    };
    const request = new yoga.fetchAPI.Request('http://localhost/graphql', { method: 'POST' });
    const payload = { request, params, context: { request } };
    const handle = lean ? createLeanOperation(internals) : internals.handleParams;
    const result = await settle(handle(payload));
    return { log, result: JSON.parse(JSON.stringify(result)) as unknown };
  };
  return { yoga: await run(false), lean: await run(true) };
}

describe('the lean operation, against Yoga', () => {
  it('calls every onExecute hook, then every onExecuteDone, in order, sync and async alike', async () => {
    const { yoga, lean } = await both(
      (log) => [recorder('a', log), recorder('b', log, { async: true }), recorder('c', log, { replaceResult: true })],
      { query: '{ hello(name: "x") }' },
    );
    expect(lean).toEqual(yoga);
    expect(lean.log).toEqual(['a:execute', 'b:execute', 'c:execute', 'a:done', 'b:done', 'c:done']);
    expect(lean.result).toEqual({ data: { hello: 'hello x' }, extensions: { by: 'c' } });
  });

  it('stops at a hook that sets the result: later hooks and the resolvers do not run, earlier done hooks do', async () => {
    const { yoga, lean } = await both(
      (log) => [recorder('a', log), recorder('b', log, { stop: true, async: true }), recorder('c', log)],
      { query: '{ hello }' },
    );
    expect(lean).toEqual(yoga);
    expect(lean.log).toEqual(['a:execute', 'b:execute', 'a:done', 'b:done']);
    expect(lean.result).toEqual({ data: { hello: 'stopped by b' } });
  });

  it('runs the resolvers on the context a hook extended', async () => {
    const { yoga, lean } = await both((log) => [recorder('a', log, { extend: { greeting: 'hi' } })], {
      query: 'query Q($n: String) { hello(name: $n) }',
      variables: { n: 'y' },
    });
    expect(lean).toEqual(yoga);
    expect(lean.result).toEqual({ data: { hello: 'hi y' } });
  });

  it('answers a bad context extension with the same masked error', async () => {
    const { yoga, lean } = await both((log) => [recorder('a', log, { extend: 'not an object' })], {
      query: '{ hello }',
    });
    expect(lean).toEqual(yoga);
    expect(JSON.stringify(lean.result)).toContain('Unexpected error.');
  });

  it('masks a resolver error and answers a validation error as Yoga does', async () => {
    const failed = await both((log) => [recorder('a', log)], { query: '{ fail }' });
    expect(failed.lean).toEqual(failed.yoga);
    expect(JSON.stringify(failed.lean.result)).not.toContain('secret internals');
    const invalid = await both((log) => [recorder('a', log)], { query: '{ nope }' });
    expect(invalid.lean).toEqual(invalid.yoga);
    expect(invalid.lean.log).toEqual([]);
    expect((invalid.lean.result as { errors: GraphQLError[] }).errors[0]!.message).toContain('nope');
  });

  it("leaves a subscription to envelop's subscribe: no onExecute hook sees it, on either path", async () => {
    const { yoga, lean } = await both((log) => [recorder('a', log, { stream: true })], {
      query: 'subscription { ticks }',
    });
    expect(lean).toEqual(yoga);
    expect(lean.log).toEqual([]);
    expect(lean.result).toEqual({ stream: [{ data: { ticks: 1 } }, { data: { ticks: 2 } }] });
  });

  it('delivers an execute result that is a stream through the onNext hooks (incremental delivery)', async () => {
    const streamed: Plugin = {
      onExecute({ setExecuteFn }) {
        setExecuteFn(async function* () {
          yield { data: { hello: 'one' }, hasNext: true };
          yield { incremental: [], hasNext: false };
        } as never);
      },
    };
    const { yoga, lean } = await both((log) => [recorder('a', log, { stream: true }), streamed], {
      query: '{ hello }',
    });
    expect(lean).toEqual(yoga);
    expect(lean.log).toEqual(['a:execute', 'a:done', 'a:next', 'a:next', 'a:end']);
  });
});
