import { request } from 'undici';
import { streamWaiters } from './stream-waiters.js';

/** One event of a GraphQL-over-SSE stream (distinct connections mode). */
export interface SseEvent {
  event: 'next' | 'complete';
  /** The parsed `data:` of a `next` event (an ExecutionResult); undefined for `complete`. */
  data?: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  };
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every event received so far, in order (`complete` included). */
  events: SseEvent[];
  /** Comment lines received (Yoga's keep-alive pings are `:`). */
  readonly pings: number;
  /** Resolves once the server has ended the response. */
  ended: Promise<void>;
  /** Waits until `events` satisfies `until` (or fails after `timeoutMs`), and returns `events`. */
  waitFor(until: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  /** The client goes away (what closing a browser tab does). */
  close(): void;
}

/**
 * A minimal GraphQL-over-SSE reader over undici, so a test sees the raw HTTP status,
 * headers and every event (including `complete`) of one subscription.
 * `POST` sends the operation as JSON; `GET` puts it in the query string.
 */
export async function openSse(
  url: string,
  query: string,
  {
    method = 'POST',
    headers = {},
    documentId,
  }: {
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    /** Sends a persisted operation's id instead of `query` (POST). */
    documentId?: string;
  } = {},
): Promise<SseStream> {
  const controller = new AbortController();
  const target = new URL(`${url}/graphql`);
  if (method === 'GET') target.searchParams.set('query', query);
  const sent: Record<string, string> = { accept: 'text/event-stream', ...headers };
  if (method === 'POST') sent['content-type'] = 'application/json';
  for (const [name, value] of Object.entries(sent)) if (value === '') delete sent[name];
  const res = await request(target, {
    method,
    headers: sent,
    ...(method === 'POST' ? { body: JSON.stringify(documentId === undefined ? { query } : { documentId }) } : {}),
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let pings = 0;
  let done = false;
  const waiting = streamWaiters(events, () => done, 'events');
  const notify = waiting.notify;
  const isStream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
  const ended = (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              pings++; // keep-alive comment
              continue;
            }
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (event === 'next') events.push({ event, data: JSON.parse(data.join('\n')) as SseEvent['data'] });
          else if (event === 'complete') events.push({ event });
          else if (!isStream && data.length === 0 && block.trim() !== '') {
            // Not an event stream (an error answered as JSON): keep it as one `next`.
            events.push({ event: 'next', data: JSON.parse(block) as SseEvent['data'] });
          }
          notify();
        }
      }
      if (!isStream && buffer.trim() !== '')
        events.push({ event: 'next', data: JSON.parse(buffer) as SseEvent['data'] });
    } catch {
      // aborted by close()
    } finally {
      notify();
    }
  })();
  void ended.then(() => {
    done = true;
    notify();
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    events,
    get pings() {
      return pings;
    },
    ended,
    waitFor: waiting.waitFor,
    close() {
      controller.abort();
    },
  };
}
