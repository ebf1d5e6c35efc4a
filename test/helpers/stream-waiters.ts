/**
 * Waiting on a stream read in the background (SSE events, multipart parts): the reader
 * calls `notify()` after each item and at the end; `waitFor` resolves once `until` holds,
 * and fails when the stream ends first or the time runs out, listing what arrived.
 */
export function streamWaiters<T>(items: T[], ended: () => boolean, what: string) {
  const waiters = new Set<() => void>();
  return {
    notify(): void {
      for (const w of [...waiters]) w();
    },
    waitFor(until: (items: T[]) => boolean, timeoutMs = 5_000): Promise<T[]> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (until(items)) {
            cleanup();
            resolve(items);
          } else if (ended()) {
            cleanup();
            reject(new Error(`stream ended first; ${what}: ${JSON.stringify(items)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms; ${what}: ${JSON.stringify(items)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
