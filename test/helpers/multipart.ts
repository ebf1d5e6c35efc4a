import { request } from 'undici';
import { streamWaiters } from './stream-waiters.js';

/** One part of an incremental (`@defer`/`@stream`) response: the first result, or a subsequent payload. */
export interface IncrementalPart {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  incremental?: Array<{
    data?: Record<string, unknown> | null;
    items?: unknown[];
    path: Array<string | number>;
    label?: string;
    errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  }>;
  hasNext?: boolean;
}

export interface IncrementalResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parts received so far, in order. */
  parts: IncrementalPart[];
  /** Resolves when the response has ended. */
  ended: Promise<void>;
  /** Waits until `parts` satisfies `until` (or fails after `timeoutMs`). */
  waitFor(until: (parts: IncrementalPart[]) => boolean, timeoutMs?: number): Promise<IncrementalPart[]>;
  /** The client goes away. */
  close(): void;
}

/**
 * POSTs an operation with `Accept: multipart/mixed` (GraphQL incremental delivery over HTTP)
 * and reads the parts as they arrive, so a test sees what a client has before the response
 * ends. A non-multipart answer (an error as JSON) becomes one part.
 */
export async function postMultipart(
  url: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<IncrementalResponse> {
  const controller = new AbortController();
  const res = await request(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'multipart/mixed', ...headers },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const parts: IncrementalPart[] = [];
  let done = false;
  const waiting = streamWaiters(parts, () => done, 'parts');
  const notify = waiting.notify;
  const type = String(res.headers['content-type'] ?? '');
  const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
  const ended = (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        if (boundary === undefined) continue;
        // A part is complete once the next delimiter has arrived.
        for (;;) {
          const first = buffer.indexOf(`--${boundary}`);
          if (first < 0) break;
          const next = buffer.indexOf(`\r\n--${boundary}`, first + boundary.length + 2);
          if (next < 0) break;
          const part = buffer.slice(first + boundary.length + 2, next);
          buffer = buffer.slice(next + 2);
          const body = part.slice(part.indexOf('\r\n\r\n') + 4).trim();
          if (body !== '') parts.push(JSON.parse(body) as IncrementalPart);
          notify();
        }
      }
      if (boundary === undefined && buffer.trim() !== '') parts.push(JSON.parse(buffer) as IncrementalPart);
    } catch {
      // aborted by close()
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    status: res.statusCode,
    headers: res.headers,
    parts,
    ended,
    waitFor: waiting.waitFor,
    close() {
      controller.abort();
    },
  };
}
