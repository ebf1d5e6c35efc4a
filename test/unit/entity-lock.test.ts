import { describe, expect, it, vi } from 'vitest';
import { EntityLockTimeoutError, MemoryEntityLocks } from '../../src/stores/entity-lock.js';

/** A promise and the function that resolves it. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('MemoryEntityLocks', () => {
  it('runs holders of one key one after the other, in arrival order', async () => {
    const locks = new MemoryEntityLocks({ maxWaitMs: 5_000, leaseMs: 10_000 });
    const order: string[] = [];
    const first = gate();
    const a = locks.withLocks(['user:1'], async () => {
      order.push('a start');
      await first.opened;
      order.push('a end');
    });
    const b = locks.withLocks(['user:1'], async () => {
      order.push('b');
    });
    const c = locks.withLocks(['user:2'], async () => {
      order.push('c (other key)');
    });
    await c;
    first.open();
    await Promise.all([a, b]);
    expect(order).toEqual(['a start', 'c (other key)', 'a end', 'b']);
    expect(locks.held).toBe(0);
  });

  it('takes keys in sorted order, so overlapping sets asked for in opposite orders never deadlock', async () => {
    const locks = new MemoryEntityLocks({ maxWaitMs: 5_000, leaseMs: 10_000 });
    let done = 0;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        locks.withLocks(i % 2 === 0 ? ['user:1', 'group:1'] : ['group:1', 'user:1'], async () => {
          await new Promise((resolve) => setImmediate(resolve));
          done += 1;
        }),
      ),
    );
    expect(done).toBe(50);
    expect(locks.held).toBe(0);
  });

  it('a bounded wait that runs out fails with EntityLockTimeoutError and runs nothing', async () => {
    const locks = new MemoryEntityLocks({ maxWaitMs: 30, leaseMs: 10_000 });
    const holder = gate();
    const held = locks.withLocks(['group:9'], () => holder.opened);
    let ran = false;
    const waiting = locks.withLocks(['group:9'], async () => {
      ran = true;
    });
    await expect(waiting).rejects.toBeInstanceOf(EntityLockTimeoutError);
    await expect(waiting).rejects.toMatchObject({ key: 'group:9' });
    expect(ran).toBe(false);
    holder.open();
    await held;
    expect(locks.held).toBe(0);
  });

  it('a stuck holder loses its keys after the lease, and its late release frees nothing of the next holder', async () => {
    vi.useFakeTimers();
    try {
      const locks = new MemoryEntityLocks({ maxWaitMs: 5_000, leaseMs: 1_000 });
      const stuck = gate();
      const first = locks.withLocks(['user:7'], () => stuck.opened);
      const next = gate();
      let secondRunning = false;
      const second = locks.withLocks(['user:7'], async () => {
        secondRunning = true;
        await next.opened;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(secondRunning).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(secondRunning).toBe(true);
      stuck.open();
      await first;
      // The key still belongs to the second holder: a third one waits for it.
      let thirdRan = false;
      const third = locks.withLocks(['user:7'], async () => {
        thirdRan = true;
      });
      await vi.advanceTimersByTimeAsync(10);
      expect(thirdRan).toBe(false);
      next.open();
      await Promise.all([second, third]);
      expect(thirdRan).toBe(true);
      expect(locks.held).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a holder that throws releases its keys', async () => {
    const locks = new MemoryEntityLocks({ maxWaitMs: 5_000, leaseMs: 10_000 });
    await expect(locks.withLocks(['user:1', 'group:2'], () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(locks.held).toBe(0);
  });
});
