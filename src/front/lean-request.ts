import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The parts of the Fetch API's Request, Response and Headers that the gateway's plugins and
 * Yoga's hooks use, over node's own objects: no Fetch object, no web stream, no copy of the
 * headers. Handed to the very same hooks in place of Yoga's Fetch objects (lean-front.ts).
 */
export class LeanHeaders {
  /** Lower-case names, as node gives them. */
  constructor(private readonly map: Record<string, string | string[] | undefined> = {}) {}

  get(name: string): string | null {
    const value = this.map[name.toLowerCase()];
    if (value === undefined) return null;
    return typeof value === 'string' ? value : value.join(', ');
  }

  has(name: string): boolean {
    return this.map[name.toLowerCase()] !== undefined;
  }

  set(name: string, value: string): void {
    this.map[name.toLowerCase()] = value;
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const old = this.get(key);
    this.map[key] = old === null ? value : `${old}, ${value}`;
  }

  delete(name: string): void {
    this.map[name.toLowerCase()] = undefined;
  }

  forEach(fn: (value: string, name: string) => void): void {
    for (const name of this.keys()) fn(this.get(name)!, name);
  }

  *keys(): IterableIterator<string> {
    for (const name in this.map) if (this.map[name] !== undefined) yield name;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const name of this.keys()) yield [name, this.get(name)!];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** What node's writeHead takes. */
  raw(): Record<string, string | string[] | undefined> {
    return this.map;
  }
}

/** A POST's body, read whole from node's stream (its declared Content-Length bounds it). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('the request was aborted')));
  });
}

/** Request, as Yoga's hooks read it: method, url, headers, signal, body. */
export class LeanRequest {
  readonly method: string;
  readonly headers: LeanHeaders;
  private fullUrl: string | undefined;
  private controller: AbortController | undefined;
  private stream: ReadableStream<Uint8Array> | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    this.headers = new LeanHeaders(req.headers);
  }

  get url(): string {
    return (this.fullUrl ??= `http://${this.req.headers.host ?? 'localhost'}${this.req.url ?? '/'}`);
  }

  /** Aborted when the response closes before it finished (the client went away), as Yoga's node adapter does. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      const res = this.res;
      if (res.writableFinished) return controller.signal;
      const gone = () => controller.abort(res.errored ?? undefined);
      res.once('close', gone);
      res.once('error', gone);
      res.once('finish', () => res.removeListener('close', gone));
    }
    return this.controller.signal;
  }

  /**
   * Calls `gone` once if the response closes before it finished (the client went away): what
   * `signal` reports, without an AbortController for every request.
   */
  onGone(gone: (reason: unknown) => void): void {
    const res = this.res;
    if (res.writableFinished) return;
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      gone(res.errored ?? undefined);
    };
    res.once('close', once);
    res.once('error', once);
    res.once('finish', () => res.removeListener('close', once));
  }

  /** The body as a web stream: only asked for when a body of unknown length is counted (use-request-guard.ts). */
  get body(): ReadableStream<Uint8Array> {
    return (this.stream ??= Readable.toWeb(this.req) as ReadableStream<Uint8Array>);
  }

  text(): Promise<string> {
    return readBody(this.req);
  }

  json(): Promise<unknown> {
    return readBody(this.req).then((text) => JSON.parse(text) as unknown);
  }
}

type BodyInit = string | null | undefined | Uint8Array | ReadableStream<Uint8Array>;

/** Response, as Yoga's result processors build it and its onResponse hooks edit it. */
export class LeanResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: LeanHeaders;

  constructor(
    readonly body: BodyInit = null,
    init: { status?: number; statusText?: string; headers?: Record<string, string> } = {},
  ) {
    this.status = init.status ?? 200;
    this.statusText = init.statusText ?? '';
    const headers: Record<string, string> = {};
    if (init.headers !== undefined) for (const name in init.headers) headers[name.toLowerCase()] = init.headers[name]!;
    this.headers = new LeanHeaders(headers);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
}
