/**
 * The signal one upstream attempt runs under: it aborts when the attempt's own deadline
 * passes or when any of the request's signals aborts (its budget ran out, its client left).
 *
 * One AbortController, one timer and one listener per parent, all released when the attempt
 * ends. `AbortSignal.timeout` plus `AbortSignal.any` did the same with weak references and
 * a finalization registry per attempt: a measurable share of the gateway's CPU per request
 * and of its garbage (three attempts per dashboard request).
 */
export class AttemptSignal {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly parents: AbortSignal[];
  /** True once the attempt's own deadline passed (not a parent's abort). */
  timedOut = false;

  constructor(timeoutMs: number, parents: ReadonlyArray<AbortSignal | undefined>) {
    this.parents = [];
    for (const parent of parents) {
      if (parent === undefined) continue;
      if (parent.aborted) {
        this.controller.abort(parent.reason);
        break;
      }
      parent.addEventListener('abort', this.onParentAbort, { once: true });
      this.parents.push(parent);
    }
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The attempt is over: its timer and listeners go (the signal keeps its state). */
  dispose(): void {
    clearTimeout(this.timer);
    for (const parent of this.parents) parent.removeEventListener('abort', this.onParentAbort);
    this.parents.length = 0;
  }

  private readonly onTimeout = (): void => {
    if (this.controller.signal.aborted) return;
    this.timedOut = true;
    this.controller.abort(new DOMException('The upstream attempt timed out', 'TimeoutError'));
  };

  private readonly onParentAbort = (event: Event): void => {
    this.controller.abort((event.target as AbortSignal).reason);
    this.dispose();
  };
}
