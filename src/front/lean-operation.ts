import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getOperationAST } from 'graphql';
import type { DocumentNode, ExecutionArgs, ExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import {
  DEFAULT_ERROR_MESSAGE,
  documentStringMap,
  finalAsyncIterator,
  isAsyncIterable,
  mapAsyncIterator,
} from '@envelop/core';
import type { YogaLogger } from 'graphql-yoga';

/**
 * The operation of one lean-front request: Yoga's handleParams and processRequest, with
 * envelop's execute step run as plain loops over the very onExecute hooks envelop collected
 * (lean-front.ts runs Yoga's own hook lists the same way). Parse, validate, the context and
 * subscribe stay envelop's own, from `getEnveloped` as Yoga calls it.
 *
 * Envelop steps through its onExecute hooks, and then their onExecuteDone hooks, with its
 * promise helpers: each hook call allocates an iterator step, three closures and a pair of
 * fake promises, so with the gateway's dozen hooks that was a fifth of all bytes allocated
 * under `azureStatus { state }`. Here a hook that answers synchronously costs a call; the
 * loop waits only for a hook that returns a thenable. The order, the payloads and their
 * setters are envelop's (orchestrator.js, `customExecute`), so every plugin sees what it
 * sees under Yoga; the integration suite runs on both fronts to keep it so.
 */

type Hook = (payload: Record<string, unknown>) => unknown;
type Result = ExecutionResult | AsyncIterable<ExecutionResult>;
type ExecuteFn = (args: ExecutionArgs) => Result | PromiseLike<Result>;

interface OnExecuteDone {
  onExecuteDone?: Hook;
}
interface OnStream {
  onNext?: Hook;
  onEnd?: () => void;
}

/** What `getEnveloped(context)` hands Yoga for one request. */
interface Enveloped {
  parse(source: string): DocumentNode;
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[];
  contextFactory(): unknown;
  subscribe(args: ExecutionArgs): unknown;
  schema: GraphQLSchema;
}

/** The parts of Yoga's instance (private in its typings) this module runs. */
export interface YogaOperationInternals {
  plugins: Array<Record<string, unknown> | undefined | false>;
  getEnveloped(context: unknown): Enveloped;
  maskedErrorsOpts: unknown;
  logger: YogaLogger;
}

// Yoga's own error handling, from the installed graphql-yoga (pinned): its package exports
// only its index, which does not re-export it.
const yogaEsm = join(dirname(createRequire(import.meta.url).resolve('graphql-yoga/package.json')), 'esm');
export const { handleError } = (await import(pathToFileURL(join(yogaEsm, 'error.js')).href)) as {
  handleError(error: unknown, maskedErrorsOpts: unknown, logger: YogaLogger): GraphQLError[];
};

interface Params {
  query?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function noExecute(): never {
  throw new Error('No `execute` function found! Register it using "useEngine" plugin.');
}

/**
 * Calls `call` on `hooks[from..]` in order, collecting truthy answers into `into`, until
 * `stopped()` says to end; synchronous unless a hook returns a thenable (iterateAsync's semantics).
 */
function eachHook<H>(
  hooks: readonly H[],
  from: number,
  call: (hook: H) => unknown,
  into: unknown[] | undefined,
  stopped: () => boolean,
): void | Promise<void> {
  for (let i = from; i < hooks.length; i++) {
    const out = call(hooks[i]!);
    if (isThenable(out)) {
      return Promise.resolve(out).then((answer) => {
        if (answer) into?.push(answer);
        if (stopped()) return;
        return eachHook(hooks, i + 1, call, into, stopped);
      });
    }
    if (out) into?.push(out);
    if (stopped()) return;
  }
}

const never = () => false;

/** Envelop's execute (orchestrator.js `customExecute`) over `onExecuteHooks`, as plain loops. */
function createExecute(onExecuteHooks: readonly Hook[]): (args: ExecutionArgs) => Result | Promise<Result> {
  return (args) => {
    let executeFn: ExecuteFn = noExecute;
    let result: Result | undefined;
    let stop = false;
    const afterCalls: OnExecuteDone[] = [];
    const context = (args.contextValue ?? {}) as Record<string, unknown>;
    // The setters are made once per request; each hook gets its own payload, as under envelop.
    const setExecuteFn = (next: ExecuteFn) => {
      executeFn = next;
    };
    const setResultAndStopExecution = (stopResult: Result) => {
      result = stopResult;
      stop = true;
    };
    const extendContext = (extension: unknown) => {
      if (typeof extension === 'object') Object.assign(context, extension);
      else
        throw new Error(
          `Invalid context extension provided! Expected "object", got: "${JSON.stringify(extension)}" (${typeof extension})`,
        );
    };
    const payload = (): Record<string, unknown> => ({
      executeFn,
      setExecuteFn,
      setResultAndStopExecution,
      context,
      extendContext,
      args,
    });
    const run = (): Result | Promise<Result> => {
      const executed = result || executeFn({ ...args, contextValue: context });
      return isThenable(executed) ? Promise.resolve(executed).then(done) : done(executed);
    };
    const done = (executed: Result): Result | Promise<Result> => {
      result = executed;
      const afterDone: OnStream[] = [];
      const setResult = (next: Result) => {
        result = next;
      };
      const waited = eachHook(
        afterCalls,
        0,
        (after) => after.onExecuteDone?.({ args, result, setResult }),
        afterDone,
        never,
      );
      return waited === undefined ? streamed(afterDone) : waited.then(() => streamed(afterDone));
    };
    const streamed = (afterDone: readonly OnStream[]): Result => {
      let out = result!;
      if (afterDone.length === 0 || !isAsyncIterable(out)) return out;
      const onNext: Hook[] = [];
      const onEnd: Array<() => void> = [];
      for (const hooks of afterDone) {
        if (hooks.onNext) onNext.push(hooks.onNext);
        if (hooks.onEnd) onEnd.push(hooks.onEnd);
      }
      if (onNext.length > 0) {
        out = mapAsyncIterator(out, async (value: ExecutionResult) => {
          let next = value;
          for (const hook of onNext) {
            await hook({
              args,
              result: next,
              setResult(replaced: ExecutionResult) {
                next = replaced;
              },
            });
          }
          return next;
        }) as AsyncIterable<ExecutionResult>;
      }
      if (onEnd.length > 0) {
        out = finalAsyncIterator(out, () => {
          for (const hook of onEnd) hook();
        }) as AsyncIterable<ExecutionResult>;
      }
      return out;
    };
    const waited = eachHook(
      onExecuteHooks,
      0,
      (hook) => hook(payload()),
      afterCalls,
      () => stop,
    );
    return waited === undefined ? run() : waited.then(run);
  };
}

/** Envelop's parse (orchestrator.js `customParse`) over `onParse` hooks, as a plain loop. */
function envelopParse(hooks: readonly Hook[], context: Record<string, unknown>, source: string): DocumentNode {
  let result: DocumentNode | Error | null = null;
  let parseFn: (source: string, options?: unknown) => DocumentNode = noEngine('parse');
  const params = { source, options: undefined };
  const extendContext = (extension: unknown) => {
    Object.assign(context, extension);
  };
  const setParseFn = (next: typeof parseFn) => {
    parseFn = next;
  };
  const setParsedDocument = (doc: DocumentNode) => {
    result = doc;
  };
  let afterCalls: Hook[] | undefined;
  for (const hook of hooks) {
    const after = hook({ context, extendContext, params, parseFn, setParseFn, setParsedDocument });
    if (after) (afterCalls ??= []).push(after as Hook);
  }
  if (result === null) {
    try {
      result = parseFn(source);
    } catch (e) {
      result = e as Error;
    }
  }
  if (afterCalls !== undefined) {
    const replaceParseResult = (next: DocumentNode | Error) => {
      result = next;
    };
    for (const after of afterCalls) after({ context, extendContext, replaceParseResult, result });
  }
  if (result === null) throw new Error('Failed to parse document.');
  if (result instanceof Error) throw result;
  const document: DocumentNode = result;
  documentStringMap.set(document, source);
  return document;
}

/** Envelop's validate (orchestrator.js `customValidate`) over `onValidate` hooks, as a plain loop. */
function envelopValidate(
  hooks: readonly Hook[],
  context: Record<string, unknown>,
  schema: GraphQLSchema,
  documentAST: DocumentNode,
): readonly GraphQLError[] {
  let rules: unknown[] | undefined;
  let validateFn: (...args: unknown[]) => readonly GraphQLError[] = noEngine('validate');
  let result: readonly GraphQLError[] | null = null;
  const extendContext = (extension: unknown) => {
    Object.assign(context, extension);
  };
  const addValidationRule = (rule: unknown) => {
    (rules ??= []).push(rule);
  };
  const setValidationFn = (next: typeof validateFn) => {
    validateFn = next;
  };
  const setResult = (next: readonly GraphQLError[]) => {
    result = next;
  };
  let afterCalls: Hook[] | undefined;
  for (const hook of hooks) {
    const after = hook({
      context,
      extendContext,
      // `rules` is read at the time of each call, as envelop's params object holds the array it grows.
      params: { schema, documentAST, rules, typeInfo: undefined, options: undefined },
      validateFn,
      addValidationRule,
      setValidationFn,
      setResult,
    });
    if (after) (afterCalls ??= []).push(after as Hook);
  }
  result ||= validateFn(schema, documentAST, rules, undefined, undefined);
  if (!result) return result as unknown as readonly GraphQLError[];
  if (afterCalls !== undefined) {
    const valid = result.length === 0;
    for (const after of afterCalls) after({ valid, result, context, extendContext, setResult });
  }
  return result;
}

/**
 * Envelop's context factory (orchestrator.js `customContextFactory`) over `onContextBuilding`
 * hooks: synchronous unless a hook returns a thenable.
 */
function envelopContext(hooks: readonly Hook[], context: Record<string, unknown>): unknown {
  let broken = false;
  const afterCalls: unknown[] = [];
  const extendContext = (extension: unknown) => {
    Object.assign(context, extension);
  };
  const breakContextBuilding = () => {
    broken = true;
  };
  const after = (): unknown => {
    if (broken || afterCalls.length === 0) return context;
    const waited = eachHook(afterCalls as Hook[], 0, (hook) => hook({ context, extendContext }), undefined, never);
    return waited === undefined ? context : waited.then(() => context);
  };
  const waited = eachHook(
    hooks,
    0,
    (hook) => hook({ context, extendContext, breakContextBuilding }),
    afterCalls,
    () => broken,
  );
  return waited === undefined ? after() : waited.then(after);
}

function noEngine(name: string): () => never {
  return () => {
    throw new Error(`No \`${name}\` function found! Register it using "useEngine" plugin.`);
  };
}

/**
 * Envelop's `getEnveloped(context)` for one request, over the hooks its plugins registered:
 * the onEnveloped hooks run, then parse, validate and the context factory are this module's
 * loops (getEnveloped makes a closure per step and per hook call for every request). The
 * gateway's schema is static; a plugin that sets another one for a request gets envelop's own
 * getEnveloped, whose schema change reaches every plugin.
 */
function createEnveloped(yoga: YogaOperationInternals): (context: Record<string, unknown>) => Enveloped {
  const hooks = { init: [] as Hook[], parse: [] as Hook[], validate: [] as Hook[], context: [] as Hook[] };
  for (const plugin of yoga.plugins) {
    if (!plugin) continue;
    if (typeof plugin['onEnveloped'] === 'function') hooks.init.push(plugin['onEnveloped'] as Hook);
    if (typeof plugin['onParse'] === 'function') hooks.parse.push(plugin['onParse'] as Hook);
    if (typeof plugin['onValidate'] === 'function') hooks.validate.push(plugin['onValidate'] as Hook);
    if (typeof plugin['onContextBuilding'] === 'function') hooks.context.push(plugin['onContextBuilding'] as Hook);
  }
  // Envelop's subscribe does not depend on the request: taken once (the lean front takes no
  // subscription over SSE, but a POST of one answered as JSON still runs it).
  let envelopSubscribe: Enveloped['subscribe'] | undefined;
  // A context that fails to build is masked first by the handler useMaskedErrors registers with
  // envelop (the one Yoga adds), as envelop would, and then by Yoga's handleError (idempotent).
  const masked = yoga.maskedErrorsOpts as {
    maskError(error: unknown, message: string): unknown;
    errorMessage?: string;
  } | null;
  const contextError = (error: unknown): never => {
    throw masked ? masked.maskError(error, masked.errorMessage || DEFAULT_ERROR_MESSAGE) : error;
  };
  let staticSchema: GraphQLSchema | undefined;
  return (context) => {
    let schema = staticSchema;
    let changed = false;
    const setSchema = (next: GraphQLSchema) => {
      if (next !== schema) changed = true;
      schema = next;
    };
    const extendContext = (extension: unknown) => {
      if (context) Object.assign(context, extension);
    };
    for (const hook of hooks.init) hook({ context, extendContext, setSchema });
    if (staticSchema === undefined || changed) {
      // The first request learns the schema (set at plugin init, or by an onEnveloped hook) from
      // envelop itself; a schema set per request always goes there.
      const enveloped = yoga.getEnveloped(context);
      envelopSubscribe ??= enveloped.subscribe;
      if (staticSchema === undefined && (!changed || schema === enveloped.schema)) staticSchema = enveloped.schema;
      return enveloped;
    }
    return {
      parse: (source) => envelopParse(hooks.parse, context, source),
      validate: (s, document) => envelopValidate(hooks.validate, context, s, document),
      contextFactory: () => {
        try {
          const built = envelopContext(hooks.context, context);
          return isThenable(built) ? Promise.resolve(built).then(undefined, contextError) : built;
        } catch (error) {
          return contextError(error);
        }
      },
      subscribe: (args) => (envelopSubscribe ?? yoga.getEnveloped(context).subscribe)(args),
      schema: schema!,
    };
  };
}

/**
 * Yoga's handleParams for the lean front: the same steps, errors and stream handling, with
 * envelop's execute replaced by the plain loops above.
 */
export function createLeanOperation(
  yoga: YogaOperationInternals,
): (payload: { request: unknown; params: unknown; context: unknown }) => unknown {
  const onExecuteHooks: Hook[] = [];
  for (const plugin of yoga.plugins) {
    if (plugin && typeof plugin['onExecute'] === 'function') onExecuteHooks.push(plugin['onExecute'] as Hook);
  }
  const execute = createExecute(onExecuteHooks);
  const getEnveloped = createEnveloped(yoga);
  const failed = (error: unknown): ExecutionResult => ({
    errors: handleError(error, yoga.maskedErrorsOpts, yoga.logger),
  });
  const processed = (result: unknown): unknown => {
    yoga.logger.debug('Processing GraphQL Parameters done.');
    if (!isAsyncIterable(result)) return result;
    return mapAsyncIterator(
      result,
      (value: unknown) => value,
      (error: unknown) => {
        if ((error as { name?: unknown } | null)?.name === 'AbortError') {
          yoga.logger.debug('Request aborted');
          throw error;
        }
        return failed(error);
      },
    );
  };

  /** Yoga's processRequest (process-request.js), with this module's execute. */
  const processRequest = (params: Params, enveloped: Enveloped): unknown => {
    const document = enveloped.parse(params.query!);
    const errors = enveloped.validate(enveloped.schema, document);
    if (errors.length > 0) return { errors };
    const withContext = (contextValue: unknown) => {
      const args: ExecutionArgs = {
        schema: enveloped.schema,
        document,
        contextValue,
        variableValues: params.variables,
        operationName: params.operationName,
      };
      const operation = getOperationAST(document, params.operationName);
      return operation?.operation === 'subscription' ? enveloped.subscribe(args) : execute(args);
    };
    const contextValue = enveloped.contextFactory();
    return isThenable(contextValue) ? Promise.resolve(contextValue).then(withContext) : withContext(contextValue);
  };

  return ({ request, params, context }) => {
    const ctx = context as Record<string, unknown>;
    if (ctx['request'] !== request) ctx['request'] = request;
    ctx['params'] = params;
    let result: unknown;
    try {
      const enveloped = getEnveloped(ctx);
      yoga.logger.debug('Processing GraphQL Parameters');
      result = processRequest(params as Params, enveloped);
    } catch (error) {
      return failed(error);
    }
    if (isThenable(result)) return Promise.resolve(result).then(processed, failed);
    return processed(result);
  };
}
