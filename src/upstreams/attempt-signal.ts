/**
 * The signal one upstream attempt runs under: it aborts when the attempt's own deadline
 * passes, when its request's AbortScope ends it (the budget ran out; for a read, the client
 * left), or when any other parent signal aborts.
 *
 * One timer per attempt, released when the attempt ends, and no AbortController: what the
 * attempt hands on is an AttemptAbort, the part of a signal its readers use. undici takes any
 * EventEmitter-like signal (it checks for `on`, calls `once('abort')` and `removeListener`, then reads
 * `reason`); cockatiel's bulkhead and breaker read `aborted` only. An AbortController's
 * EventTarget cost more than the rest of the attempt's bookkeeping together.
 * `AbortSignal.timeout` plus `AbortSignal.any` did the same with weak references and a
 * finalization registry per attempt, and an EventTarget listener per parent cost nearly as
 * much again: a measurable share of the gateway's CPU per request (three attempts per
 * dashboard request). The request's own reasons therefore come through its AbortScope, a
 * plain set of the attempts running, with no listener per attempt.
 */

type AbortListener = () => void;

/** An attempt's signal, as undici (EventEmitter-style) and cockatiel (`aborted`) read one. */
export class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  /** undici adds one listener per request it sends; kept as a plain list. */
  private listeners: AbortListener[] | undefined;

  /** undici checks for `on` to tell an EventEmitter; abort fires once, so `on` is `once`. */
  on(event: string, listener: AbortListener): this {
    if (event === 'abort') (this.listeners ??= []).push(listener);
    return this;
  }

  once(event: string, listener: AbortListener): this {
    return this.on(event, listener);
  }

  removeListener(event: string, listener: AbortListener): this {
    if (event !== 'abort' || this.listeners === undefined) return this;
    const at = this.listeners.indexOf(listener);
    if (at !== -1) this.listeners.splice(at, 1);
    return this;
  }

  /** Aborts once: later calls keep the first reason. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** What undici's and cockatiel's typings call a signal; both read only the members above. */
  asSignal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}

export class AttemptSignal {
  private readonly state = new AttemptAbort();
  private readonly timer: NodeJS.Timeout;
  private readonly parents: AbortSignal[];
  private scope: AbortScope | undefined;
  /** True once the attempt's own deadline passed (not a parent's abort). */
  timedOut = false;

  constructor(
    timeoutMs: number,
    parents: ReadonlyArray<AbortSignal | undefined>,
    scope?: { scope: AbortScope; read: boolean },
  ) {
    this.parents = [];
    if (scope !== undefined) {
      const ended = scope.scope.enter(this, scope.read);
      if (ended !== undefined) this.state.abort(ended.reason);
      else this.scope = scope.scope;
    }
    for (const parent of parents) {
      if (parent === undefined || this.state.aborted) continue;
      if (parent.aborted) {
        this.state.abort(parent.reason);
        continue;
      }
      parent.addEventListener('abort', this.onParentAbort, { once: true });
      this.parents.push(parent);
    }
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    this.timer.unref();
  }

  get signal(): AttemptAbort {
    return this.state;
  }

  /** The attempt is over: its timer and listeners go (the signal keeps its state). */
  dispose(): void {
    clearTimeout(this.timer);
    this.scope?.leave(this);
    this.scope = undefined;
    for (const parent of this.parents) parent.removeEventListener('abort', this.onParentAbort);
    this.parents.length = 0;
  }

  /** Ends the attempt for a reason of its request's (AbortScope). */
  abort(reason: unknown): void {
    this.state.abort(reason);
    this.dispose();
  }

  private readonly onTimeout = (): void => {
    if (this.state.aborted) return;
    this.timedOut = true;
    this.state.abort(new DOMException('The upstream attempt timed out', 'TimeoutError'));
  };

  private readonly onParentAbort = (event: Event): void => {
    this.abort((event.target as AbortSignal).reason);
  };
}

/**
 * One request's reasons to end its running upstream attempts early: `endAll` (its budget
 * crossed a limit) ends every one, `endReads` (its client went away) the reads only, since a
 * write already sent runs to its end. Attempts enter while they run and leave when done.
 */
export class AbortScope {
  private all: { reason: unknown } | undefined;
  private reads: { reason: unknown } | undefined;
  /** The attempts running, each with whether it is a read. */
  private readonly running = new Map<AttemptSignal, boolean>();

  /** Registers a starting attempt; returns why it must not run when the scope already ended it. */
  enter(attempt: AttemptSignal, read: boolean): { reason: unknown } | undefined {
    const ended = this.all ?? (read ? this.reads : undefined);
    if (ended === undefined) this.running.set(attempt, read);
    return ended;
  }

  leave(attempt: AttemptSignal): void {
    this.running.delete(attempt);
  }

  endAll(reason: unknown): void {
    if (this.all !== undefined) return;
    this.all = { reason };
    for (const attempt of [...this.running.keys()]) attempt.abort(reason);
  }

  endReads(reason: unknown): void {
    if (this.all !== undefined || this.reads !== undefined) return;
    this.reads = { reason };
    for (const [attempt, read] of [...this.running]) if (read) attempt.abort(reason);
  }
}
