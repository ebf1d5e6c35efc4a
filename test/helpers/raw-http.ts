import { connect } from 'node:net';

export interface RawResult {
  /** The status of the response, or undefined when the socket closed without one. */
  status: number | undefined;
  /** The response's head and whatever body arrived. */
  text: string;
  /** Body bytes written before the answer came or the socket closed. */
  bytesSent: number;
}

/**
 * One HTTP/1.1 request over a plain socket, its body streamed in 64 KiB chunks (with
 * Content-Length, or chunked when `contentLength` is false) until `totalBytes` are sent, the
 * response arrives or the server closes the socket. For bodies no HTTP client would let a
 * test send while the server answers early.
 */
export function sendBody(
  url: string,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    totalBytes: number;
    chunked?: boolean;
    /** Stop sending once the response has arrived (the default). */
    stopOnResponse?: boolean;
  },
): Promise<RawResult> {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.alloc(64 * 1024, 'a');
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let bytesSent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, bytesSent });
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // The head and a short body are enough: every refusal here is small.
      if ((options.stopOnResponse ?? true) && /\r\n\r\n/.test(text)) setTimeout(finish, 50);
    });
    socket.on('error', () => setTimeout(finish, 50));
    socket.on('close', () => setTimeout(finish, 50));
    const head = [
      `${options.method ?? 'POST'} ${options.path} HTTP/1.1`,
      `Host: ${hostname}:${port}`,
      'Content-Type: application/json',
      options.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${options.totalBytes}`,
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ].join('\r\n');
    socket.write(head);
    const pump = () => {
      while (!done && bytesSent < options.totalBytes && !socket.destroyed) {
        const n = Math.min(chunk.length, options.totalBytes - bytesSent);
        const piece = options.chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), chunk.subarray(0, n), Buffer.from('\r\n')])
          : chunk.subarray(0, n);
        bytesSent += n;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!done && bytesSent >= options.totalBytes && options.chunked && !socket.destroyed) socket.write('0\r\n\r\n');
    };
    pump();
  });
}
