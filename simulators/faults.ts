/**
 * Fault injection and request counting shared by both upstream simulators.
 *
 * The rules are deliberately plain data (JSON-serialisable) because the
 * benchmark and the demo run the simulators as separate processes and
 * install faults over `POST /__sim/faults`; in-process tests call
 * `addFault()` with the same shape.
 */
import { z } from 'zod';

/** What a matching request gets instead of (or before) the normal answer. */
export type FaultAction =
  /** Answer `status` with `body` serialised as JSON (no body when absent). */
  | { type: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  /**
   * Answer `status` with the vendor's error body: NPM `{error_id, error_text}`;
   * Axis `{status: <.NET HttpStatusCode name, or errorId>, details: text}`; `headers` are added
   * (e.g. `Retry-After` on a 503 or 429).
   */
  | { type: 'error'; status: number; errorId?: string; text?: string; headers?: Record<string, string> }
  /**
   * Answer `status` with the vendor's error body whose text (or, with `into: 'errorId'`, whose
   * error id) quotes the WHOLE request: method, path with query, every header (Authorization
   * and cookies included) and the body. What a careless upstream or proxy does; the gateway
   * must never pass any of it on (secrecy tests).
   */
  | { type: 'echo'; status: number; into?: 'text' | 'errorId' }
  /** Handle the request normally (it is applied), then never answer: the client times out. */
  | { type: 'applyThenHang' }
  /** Wait `ms`, then handle the request normally. */
  | { type: 'delay'; ms: number }
  /** Never answer; the socket is destroyed by `stop()`. */
  | { type: 'hang' }
  /** Destroy the socket without a response (TCP RST: ECONNRESET at the client). */
  | { type: 'reset' }
  /** 200, `content-type: application/json`, a body that is not JSON. */
  | { type: 'malformed' }
  /** 200 JSON of the wrong shape for the route. */
  | { type: 'wrongShape' };

export interface FaultRule {
  /** A route name (`users.get`, `token.post`...) or `*` / absent for every fault-eligible API route. */
  route?: string;
  /** HTTP method to match, case-insensitive; absent matches any. */
  method?: string;
  /** How many requests the rule affects; absent = unlimited. Requests spared by `probability` do not count. */
  times?: number;
  /**
   * Chance (0 < p <= 1) that a matching request is affected; absent = 1. A spared request is
   * matched against the later rules as if this rule were not there.
   */
  probability?: number;
  action: FaultAction;
}

const httpStatus = z.number().int().min(200).max(599);

const faultActionSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('status'),
    status: httpStatus,
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    type: z.literal('error'),
    status: httpStatus,
    errorId: z.string().min(1).optional(),
    text: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({ type: z.literal('echo'), status: httpStatus, into: z.enum(['text', 'errorId']).optional() }),
  z.object({ type: z.literal('applyThenHang') }),
  z.object({ type: z.literal('delay'), ms: z.number().int().min(0).max(600_000) }),
  z.object({ type: z.literal('hang') }),
  z.object({ type: z.literal('reset') }),
  z.object({ type: z.literal('malformed') }),
  z.object({ type: z.literal('wrongShape') }),
]);

const faultRuleSchema = z.object({
  route: z.string().min(1).optional(),
  method: z.string().min(1).optional(),
  times: z.number().int().positive().optional(),
  probability: z.number().gt(0).max(1).optional(),
  action: faultActionSchema,
});

export const latencySchema = z.object({ ms: z.number().int().min(0).max(600_000) });

/** One-line, value-free description of the first zod issue (never echoes secrets). */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid input';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
  return `${where}: ${issue.message}`;
}

interface ActiveRule {
  readonly route: string | undefined;
  readonly method: string | undefined;
  remaining: number;
  readonly probability: number | undefined;
  readonly action: FaultAction;
}

/**
 * Ordered fault rules. The first active rule that matches wins; a rule with
 * `times` is consumed by each request it affects and disappears at zero.
 */
export class FaultInjector {
  readonly #routeNames: ReadonlySet<string>;
  readonly #exempt: ReadonlySet<string>;
  readonly #random: () => number;
  #rules: ActiveRule[] = [];

  /**
   * @param routeNames every API route name of the simulator (unknown names are rejected so a typo cannot silently disable a test)
   * @param exemptFromWildcard routes hit only by rules that name them (the NPM login route)
   * @param random uniform in [0, 1), for `probability`; injectable so tests can make it deterministic
   */
  constructor(
    routeNames: Iterable<string>,
    exemptFromWildcard: Iterable<string> = [],
    random: () => number = Math.random,
  ) {
    this.#routeNames = new Set(routeNames);
    this.#exempt = new Set(exemptFromWildcard);
    this.#random = random;
  }

  /** Validates and appends a rule; throws an `Error` describing the problem. */
  add(input: unknown): void {
    const parsed = faultRuleSchema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid fault rule: ${describeZodError(parsed.error)}`);
    const rule = parsed.data;
    const route = rule.route === undefined || rule.route === '*' ? undefined : rule.route;
    if (route !== undefined && !this.#routeNames.has(route)) {
      throw new Error(`invalid fault rule: unknown route "${route}" (known: ${[...this.#routeNames].join(', ')})`);
    }
    this.#rules.push({
      route,
      method: rule.method?.toUpperCase(),
      remaining: rule.times ?? Number.POSITIVE_INFINITY,
      probability: rule.probability,
      action: rule.action as FaultAction,
    });
  }

  clear(): void {
    this.#rules = [];
  }

  get size(): number {
    return this.#rules.length;
  }

  /** Returns the action for this request (consuming one use of the rule), or undefined. */
  take(route: string, method: string): FaultAction | undefined {
    const rules = this.#rules;
    if (rules.length === 0) return undefined;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule === undefined) continue;
      if (rule.route === undefined ? this.#exempt.has(route) : rule.route !== route) continue;
      if (rule.method !== undefined && rule.method !== method) continue;
      if (rule.probability !== undefined && this.#random() >= rule.probability) continue;
      rule.remaining -= 1;
      if (rule.remaining <= 0) rules.splice(i, 1);
      return rule.action;
    }
    return undefined;
  }

  /** The active rules, for `/__sim/state`. */
  list(): FaultRule[] {
    return this.#rules.map((r) => ({
      route: r.route ?? '*',
      ...(r.method === undefined ? {} : { method: r.method }),
      ...(Number.isFinite(r.remaining) ? { times: r.remaining } : {}),
      ...(r.probability === undefined ? {} : { probability: r.probability }),
      action: r.action,
    }));
  }
}

/** Per-route request counts; `total` is the sum over API routes (control routes are never counted). */
export class RequestCounter {
  readonly #counts = new Map<string, number>();
  #total = 0;

  constructor(routeNames: Iterable<string>) {
    for (const name of routeNames) this.#counts.set(name, 0);
  }

  hit(route: string): void {
    this.#counts.set(route, (this.#counts.get(route) ?? 0) + 1);
    this.#total += 1;
  }

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, n] of this.#counts) out[name] = n;
    out['total'] = this.#total;
    return out;
  }

  reset(): void {
    for (const name of this.#counts.keys()) this.#counts.set(name, 0);
    this.#total = 0;
  }
}
