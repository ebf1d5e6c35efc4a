/**
 * What the upstream layer throws: what happened on the wire, with no GraphQL meaning
 * attached (that mapping lives in `src/errors.ts`, the one module that knows GraphQL).
 */

export type UpstreamName = 'npm' | 'axis';

/** What went wrong on the wire, before any GraphQL meaning is attached. */
export type UpstreamFailure =
  /** The upstream answered with a non-success status. */
  | 'http'
  /** Connection refused, reset, DNS failure: nothing usable came back. */
  | 'unavailable'
  /** No complete answer within the configured time. */
  | 'timeout'
  /** A success status with a body that is not JSON or not the documented shape. */
  | 'bad_response';

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    readonly upstream: UpstreamName,
    readonly details: {
      status?: number;
      /** Riverbed `error_id`, or the Axis `status` name. */
      errorId?: string;
      /** The upstream's own description, sanitised before it reaches a client. */
      text?: string;
      cause?: unknown;
      /** The request never reached the upstream (connect failure): safe to send again. */
      notSent?: boolean;
      /**
       * The gateway refused the call itself (circuit open, queue full, request deadline
       * spent, the request itself stopped: its budget ran out, or its client went away while
       * reading): no upstream traffic, not a sign of upstream health, and never retried.
       */
      local?: 'circuit_open' | 'queue_full' | 'deadline' | 'cancelled';
      /** From the upstream's `Retry-After`. */
      retryAfterMs?: number;
    } = {},
  ) {
    super(
      `${upstream} upstream ${failure}${details.status ? ` ${details.status}` : ''}${details.errorId ? ` ${details.errorId}` : ''}`,
      {
        cause: details.cause,
      },
    );
    this.name = 'UpstreamError';
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get errorId(): string | undefined {
    return this.details.errorId;
  }
}
