import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createRefusalLog } from '../../src/http/refusal-log.js';

describe('createRefusalLog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs one warn line per (reason, client) per interval, then one line counting the rest', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('info', {
      write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>),
    });
    const refusals = createRefusalLog(logger, 60_000);
    for (let i = 0; i < 500; i++) refusals.refused('invalid_credential', '198.51.100.1');
    refusals.refused('invalid_credential', '198.51.100.2');
    refusals.refused('body_too_large', '198.51.100.1');
    expect(lines.map((l) => [l['level'], l['reason'], l['client']])).toEqual([
      [40, 'invalid_credential', '198.51.100.1'],
      [40, 'invalid_credential', '198.51.100.2'],
      [40, 'body_too_large', '198.51.100.1'],
    ]);
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: 40, suppressed: { invalid_credential: 499 } });
    // A new interval: the same client is logged once again; nothing suppressed, no summary.
    refusals.refused('invalid_credential', '198.51.100.1');
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(5);
  });

  it('remembers at most 1000 clients per interval, so many addresses cannot flood the log either', () => {
    const lines: string[] = [];
    const refusals = createRefusalLog(createLogger('info', { write: (l: string) => void lines.push(l) }), 60_000);
    for (let i = 0; i < 5_000; i++) refusals.refused('no_credential', `client-${i}`);
    expect(lines).toHaveLength(1_000);
    vi.advanceTimersByTime(60_000);
    expect(JSON.parse(lines[1_000]!)).toMatchObject({ suppressed: { no_credential: 4_000 } });
  });
});
