/** Tiny loopback HTTP helper for the simulator tests (undici, real sockets). */
import { request } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** Parsed body, or undefined when the body is empty or not JSON. */
  readonly json: unknown;
}

export interface HttpOptions {
  /** Sends `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Serialised as the JSON body. */
  readonly json?: unknown;
  /** Raw body, sent as is. */
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly headersTimeout?: number;
}

export async function http(base: string, method: string, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] ??= `Bearer ${options.token}`;
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers,
    ...(body === undefined ? {} : { body }),
    ...(options.headersTimeout === undefined ? {} : { headersTimeout: options.headersTimeout }),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
