import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBatchedDestination } from '../../src/log-destination.js';
import type { LogSink } from '../../src/log-destination.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function recordingSink(): LogSink & { writes: string[]; flushes: number; syncFlushes: number } {
  const sink = {
    writes: [] as string[],
    flushes: 0,
    syncFlushes: 0,
    write(chunk: string) {
      sink.writes.push(chunk);
    },
    flush(cb?: (err?: Error) => void) {
      sink.flushes++;
      cb?.();
    },
    flushSync() {
      sink.syncFlushes++;
    },
  };
  return sink;
}

const lines = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `{"n":${from + i}}\n`);

/**
 * Runs a module of JavaScript in a child process with the gateway's logger on stdout.
 * `stallMs`: how long this end leaves the pipe unread at first, so that the child's writes
 * fill it and wait (a log collector that lags).
 */
async function runChild(body: string, stallMs = 0): Promise<{ code: number | null; stdout: string }> {
  const script = `import { createLogger } from './src/logger.ts';\nconst logger = createLogger('info');\n${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  if (stallMs > 0) {
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), stallMs);
  }
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout };
}

const loggedNumbers = (stdout: string): number[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { n?: number }).n)
    .filter((n): n is number => n !== undefined);

describe('the batched log destination', () => {
  it('writes the lines of a few milliseconds as one write, in order', async () => {
    const sink = recordingSink();
    const dest = createBatchedDestination({ sink, maxDelayMs: 5 });
    for (const line of lines(50)) dest.write(line);
    expect(sink.writes).toEqual([]);
    await sleep(30);
    expect(sink.writes).toEqual([lines(50).join('')]);

    // The timer re-arms for the next batch.
    for (const line of lines(3, 50)) dest.write(line);
    await sleep(30);
    expect(sink.writes).toEqual([lines(50).join(''), lines(3, 50).join('')]);
  });

  it('does not hold a line longer under a steady stream of them', async () => {
    const sink = recordingSink();
    const dest = createBatchedDestination({ sink, maxDelayMs: 20 });
    const started = Date.now();
    // A line every 2 ms for 200 ms: each batch is still written about 20 ms after its first line.
    while (Date.now() - started < 200) {
      dest.write('{"steady":true}\n');
      await sleep(2);
    }
    expect(sink.writes.length).toBeGreaterThanOrEqual(4);
  });

  it('writes a batch that reaches maxChars at once', () => {
    const sink = recordingSink();
    const dest = createBatchedDestination({ sink, maxDelayMs: 60_000, maxChars: 100 });
    const line = `${'x'.repeat(59)}\n`;
    dest.write(line);
    expect(sink.writes).toEqual([]);
    dest.write(line);
    expect(sink.writes).toEqual([line + line]);
  });

  it('keeps writing by the timer after a batch went early (maxChars, flush)', async () => {
    const sink = recordingSink();
    const dest = createBatchedDestination({ sink, maxDelayMs: 5, maxChars: 10 });
    dest.write('0123456789\n');
    expect(sink.writes).toEqual(['0123456789\n']);
    dest.write('a\n');
    await sleep(30);
    expect(sink.writes).toEqual(['0123456789\n', 'a\n']);
    dest.write('b\n');
    dest.flush();
    dest.write('c\n');
    await sleep(30);
    expect(sink.writes).toEqual(['0123456789\n', 'a\n', 'b\n', 'c\n']);
  });

  it('hands the waiting lines over on flush and on flushSync, then flushes the sink', () => {
    const sink = recordingSink();
    const dest = createBatchedDestination({ sink, maxDelayMs: 60_000 });
    dest.write('a\n');
    let called = false;
    dest.flush(() => (called = true));
    expect(sink.writes).toEqual(['a\n']);
    expect(sink.flushes).toBe(1);
    expect(called).toBe(true);
    dest.write('b\n');
    dest.flushSync();
    expect(sink.writes).toEqual(['a\n', 'b\n']);
    expect(sink.syncFlushes).toBe(1);
  });

  describe('on stdout of a process that ends at once', () => {
    it('writes the waiting lines when the process calls process.exit', async () => {
      const { code, stdout } = await runChild(`logger.info({ n: 1 }, 'before exit');\nprocess.exit(3);`);
      expect(code).toBe(3);
      expect(loggedNumbers(stdout)).toEqual([1]);
    });

    it('writes the waiting lines when the process dies of an uncaught exception', async () => {
      const { code, stdout } = await runChild(`logger.info({ n: 1 }, 'before the throw');\nthrow new Error('boom');`);
      expect(code).toBe(1);
      expect(loggedNumbers(stdout)).toEqual([1]);
    });

    it('writes the waiting lines when the event loop runs dry', async () => {
      const { code, stdout } = await runChild(`logger.info({ n: 1 }, 'last words');`);
      expect(code).toBe(0);
      expect(loggedNumbers(stdout)).toEqual([1]);
    });

    it('writes every line, in order, when it exits with writes in flight', async () => {
      const { code, stdout } = await runChild(
        `for (let n = 0; n < 20000; n++) logger.info({ n }, 'line');\nsetTimeout(() => {\n  for (let n = 20000; n < 20100; n++) logger.info({ n }, 'line');\n  process.exit(0);\n}, 1);`,
      );
      expect(code).toBe(0);
      expect(loggedNumbers(stdout)).toEqual(Array.from({ length: 20100 }, (_, i) => i));
    });

    it('writes every line, in order, when it exits while its reader lags', async () => {
      const { code, stdout } = await runChild(
        `for (let n = 0; n < 20000; n++) logger.info({ n }, 'line');\nsetTimeout(() => {\n  for (let n = 20000; n < 20100; n++) logger.info({ n }, 'line');\n  process.exit(0);\n}, 1);`,
        300,
      );
      expect(code).toBe(0);
      expect(loggedNumbers(stdout)).toEqual(Array.from({ length: 20100 }, (_, i) => i));
    });
  });
});
