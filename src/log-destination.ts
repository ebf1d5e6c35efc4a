import { pino } from 'pino';
import type { DestinationStream } from 'pino';

/** What the batch is handed to: pino's sonic-boom on stdout, or a test's sink. */
export interface LogSink {
  write(chunk: string): unknown;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

export interface BatchedDestinationOptions {
  /** Where the batches go: by default pino.destination on stdout (synchronous writes, EPIPE ignored). */
  sink?: LogSink;
  /** How long a line may wait for others before its batch is written (ms). */
  maxDelayMs?: number;
  /** A batch this long (UTF-16 units) is written at once, without waiting. */
  maxChars?: number;
}

export interface BatchedDestination extends DestinationStream {
  /** Hands the waiting lines to the sink now, then flushes the sink (pino's `logger.flush`). */
  flush(cb?: (err?: Error) => void): void;
  /** Writes the waiting lines and the sink's own buffer synchronously (process exit). */
  flushSync(): void;
}

const atExit = new Set<() => void>();

/**
 * One 'exit' listener for every destination made (tests make many). pino's exit handler for its
 * sink flushes only the sink's buffer; this writes what waits here first. Either may run
 * first: each writes what is left.
 */
function flushAtExit(flushSync: () => void): void {
  if (atExit.size === 0) {
    process.on('exit', () => {
      for (const flush of atExit) flush();
    });
  }
  atExit.add(flushSync);
}

const DEFAULT_MAX_DELAY_MS = 10;
const DEFAULT_MAX_CHARS = 32 * 1024;

/**
 * The root logger's stdout: the lines of a few milliseconds gathered into one write.
 *
 * pino's default destination (sonic-boom, asynchronous) writes each line as soon as no write
 * is in flight, so at a moderate request rate every operation's log line is its own
 * `fs.write`: a round trip through libuv's threadpool and back, about 17 µs of the main
 * thread's CPU per request in a profile at a fixed 2000 req/s, where formatting the line costs
 * about 7. sonic-boom's own batching (`minLength`) measures its buffer with
 * `Buffer.byteLength` on every line, which cost more than it saved (priced with bench:ab).
 * Here a line is appended to a string (a rope: no copy) and a timer writes the batch.
 *
 * What this changes for a reader of the logs: a line reaches stdout up to `maxDelayMs` later.
 * What it does not change: every line is written, in order; at process exit (process.exit,
 * an uncaught exception, the event loop running dry) the waiting lines are written
 * synchronously. Only a SIGKILL loses them (at most `maxDelayMs` of lines).
 *
 * The batches are written synchronously (sonic-boom `sync: true`), one write every
 * `maxDelayMs` or `maxChars`: the threadpool round trip that made asynchronous writes worth it
 * was per line, and a batch pays one syscall either way. An asynchronous write can still be in
 * flight on the threadpool when the process exits: the exit handler's synchronous write of the
 * rest then races it on the pipe, and lines came out of order (a 400-line batch after 3000
 * later lines). A stdout that stops draining blocks the process, as Node's own process.stdout
 * does on a pipe or a file.
 */
export function createBatchedDestination(options: BatchedDestinationOptions = {}): BatchedDestination {
  const sink = options.sink ?? pino.destination({ dest: 1, sync: true });
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  let pending = '';
  let armed = false;

  const handOver = (): void => {
    armed = false;
    if (pending.length === 0) return;
    const batch = pending;
    pending = '';
    sink.write(batch);
  };
  // One timer for the life of the process, re-armed with refresh(): no timer object per batch.
  // Never cleared (clearTimeout would make every later refresh() a no-op): when it fires after
  // its batch went early, it finds nothing to write. Unref'd: a waiting line never keeps the
  // process alive (the exit handler writes it).
  const timer = setTimeout(handOver, maxDelayMs).unref();

  const flushSync = (): void => {
    handOver();
    sink.flushSync?.();
  };
  flushAtExit(flushSync);

  return {
    write(line: string): void {
      pending += line;
      if (pending.length >= maxChars) handOver();
      else if (!armed) {
        armed = true;
        timer.refresh();
      }
    },
    flush(cb?: (err?: Error) => void): void {
      handOver();
      if (sink.flush) sink.flush(cb);
      else cb?.();
    },
    flushSync,
  };
}
