import { Kind, getArgumentValues, getOperationAST } from 'graphql';
import type { ExecutionArgs, ExecutionResult, FieldNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import { codeOf } from '../errors.js';

/** Argument keys that name what a mutation acts on. Nothing else from the input is logged. */
const TARGET_KEYS = new Set(['id', 'accId', 'accIds']);

function collectTargets(value: unknown, into: string[], key?: string): void {
  if (into.length >= 50) return;
  if (Array.isArray(value)) {
    for (const v of value) collectTargets(v, into, key);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectTargets(v, into, k);
  } else if (key !== undefined && TARGET_KEYS.has(key) && (typeof value === 'string' || typeof value === 'number')) {
    into.push(String(value));
  }
}

interface FieldTarget {
  field: string;
  targets: string[];
}

function rootFields(args: ExecutionArgs): FieldTarget[] {
  const operation = getOperationAST(args.document, args.operationName);
  const mutationType = args.schema.getMutationType();
  if (!operation || !mutationType) return [];
  const fields = mutationType.getFields();
  const out: FieldTarget[] = [];
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    const def = fields[selection.name.value];
    const entry: FieldTarget = { field: selection.name.value, targets: [] };
    if (def) {
      try {
        collectTargets(getArgumentValues(def, selection as FieldNode, args.variableValues ?? {}), entry.targets);
      } catch {
        // Invalid arguments fail execution with their own error; the audit line still says who tried.
      }
    }
    out.push(entry);
  }
  return out;
}

export interface AuditOptions {
  logger: Logger;
  principals: WeakMap<Request, Principal>;
}

/**
 * One `audit` log line per mutation, whatever its outcome: who (API key name or JWT
 * subject), which operation and root fields, the ids they acted on (created ids included),
 * the outcome with its error codes, and the duration. Never input values, never secrets.
 */
export function useAuditLog({ logger, principals }: AuditOptions): Plugin {
  const audit = logger.child({ audit: true });
  return {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const started = performance.now();
      const ctx = args.contextValue as { request?: Request; requestId?: string };
      const principal = ctx.request ? principals.get(ctx.request) : undefined;
      const fields = rootFields(args);
      return {
        onExecuteDone({ result }) {
          const single = result as ExecutionResult;
          const data = (single.data ?? {}) as Record<string, unknown>;
          for (const f of fields) {
            const returned = data[f.field];
            if (returned !== null && typeof returned === 'object' && 'id' in returned) {
              const id = (returned as { id: unknown }).id;
              if (typeof id === 'string' && !f.targets.includes(id)) f.targets.push(id);
            }
          }
          const errorCodes = (single.errors ?? []).map(codeOf);
          const succeeded = fields.filter((f) => data[f.field] !== undefined && data[f.field] !== null).length;
          audit.info(
            {
              requestId: ctx.requestId,
              actor: principal ? { kind: principal.kind, id: principal.id } : { kind: 'unknown' },
              operationName: operation.name?.value ?? null,
              fields,
              outcome: errorCodes.length === 0 ? 'success' : succeeded > 0 ? 'partial' : 'failure',
              ...(errorCodes.length ? { errorCodes } : {}),
              ms: Math.round((performance.now() - started) * 10) / 10,
            },
            'audit: mutation',
          );
        },
      };
    },
  };
}
