import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, codes, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const CREATE = 'mutation Create($i: CreateUserInput!) { createUser(input: $i) { id userName } }';
const user = (userName: string) => ({
  i: { userName, email: `${userName}@example.com`, firstName: 'I', lastName: 'K' },
});
const key = (k: string) => ({ 'idempotency-key': k });

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.axisSim.reset();
  stack.resetCounts();
});

const created = (name: string) => stack.axisSim.state().users.filter((u) => u.userName === name).length;

describe('Idempotency-Key on mutations', () => {
  it('a repeat gets the first response again, marked as a replay, with no upstream call', async () => {
    const first = await stack.gql(CREATE, user('idem.one'), key('k-1'));
    expect(first.body.errors).toBeUndefined();
    expect(stack.calls()).toEqual({ 'axis:users.create': 1, 'axis:commit': 1, 'axis:total': 2 });
    const again = await stack.gql(CREATE, user('idem.one'), key('k-1'));
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(stack.calls()['axis:users.create']).toBe(1);
    expect(created('idem.one')).toBe(1);
  });

  it('accepts the structured-header form ("key") as the same key', async () => {
    await stack.gql(CREATE, user('idem.quoted'), key('k-quoted'));
    const again = await stack.gql(CREATE, user('idem.quoted'), key('"k-quoted"'));
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(created('idem.quoted')).toBe(1);
  });

  it('a concurrent repeat (double click) waits for the first and gets its response', async () => {
    stack.axisSim.setLatency(150);
    try {
      const [a, b, c] = await Promise.all([
        stack.gql(CREATE, user('idem.double'), key('k-double')),
        stack.gql(CREATE, user('idem.double'), key('k-double')),
        stack.gql(CREATE, user('idem.double'), key('k-double')),
      ]);
      expect(a.body.errors).toBeUndefined();
      expect(b.body).toEqual(a.body);
      expect(c.body).toEqual(a.body);
      expect(stack.calls()['axis:users.create']).toBe(1);
      expect(created('idem.double')).toBe(1);
    } finally {
      stack.axisSim.setLatency(0);
    }
  });

  it('the same key with different variables is IDEMPOTENCY_KEY_REUSED (422) and runs nothing', async () => {
    await stack.gql(CREATE, user('idem.a'), key('k-reused'));
    stack.resetCounts();
    const other = await stack.gql(CREATE, user('idem.b'), key('k-reused'));
    expect(other.status).toBe(422);
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(stack.calls()).toEqual({});
    expect(created('idem.b')).toBe(0);
  });

  it('the same key with a different document is refused too', async () => {
    await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { enabled } }', undefined, key('k-doc'));
    const other = await stack.gql(
      'mutation { setAzureSyncEnabled(enabled: true) { enabled } }',
      undefined,
      key('k-doc'),
    );
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
  });

  it('keys are per caller: another caller with the same key runs its own request', async () => {
    await stack.gql(CREATE, user('idem.caller1'), key('k-shared'));
    const token = 'second-admin-key-0123456789abcdef';
    await withStack({ env: { GATEWAY_API_KEYS: `one=admin:${ADMIN_KEY},two=admin:${token}` } }, async (s2) => {
      const a = await s2.gql(CREATE, user('idem.x'), key('k-shared'));
      const b = await s2.gql(CREATE, user('idem.x'), { ...key('k-shared'), authorization: `Bearer ${token}` });
      expect(a.body.errors).toBeUndefined();
      // Not a replay of caller one's response: caller two's own create, which conflicts.
      expect(b.headers['idempotent-replayed']).toBeUndefined();
      expect(codes(b)).toEqual(['CONFLICT']);
    });
  });

  it('a failure whose outcome is unknown (sent, then 500) is not kept: the retry runs and settles it', async () => {
    stack.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'error', status: 500 } });
    const first = await stack.gql(CREATE, user('idem.fail'), key('k-fail'));
    expect(codes(first)).toEqual(['UPSTREAM_ERROR']);
    // The gateway looked the userName up: not created, and it says so.
    expect(first.body.errors?.[0]?.extensions?.['outcome']).toBe('NOT_APPLIED');
    expect(stack.calls()['axis:users.list']).toBe(1);
    const again = await stack.gql(CREATE, user('idem.fail'), key('k-fail'));
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.errors).toBeUndefined();
    expect(stack.calls()['axis:users.create']).toBe(2);
    expect(created('idem.fail')).toBe(1);
    // Now final: replayed.
    const third = await stack.gql(CREATE, user('idem.fail'), key('k-fail'));
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(third.body).toEqual(again.body);
    expect(stack.calls()['axis:users.create']).toBe(2);
  });

  it('a create applied upstream whose answer was lost is found by userName and answered as created', async () => {
    stack.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
    const first = await stack.gql(CREATE, user('idem.lost'), key('k-lost'));
    expect(first.body.errors).toBeUndefined();
    const id = (first.body.data?.['createUser'] as { id: string }).id;
    expect(
      stack.axisSim
        .state()
        .users.filter((u) => u.userName === 'idem.lost')
        .map((u) => u.id),
    ).toEqual([id]);
    expect(stack.calls()['axis:users.create']).toBe(1);
    expect(stack.logs.some((l) => l.includes('write settled by lookup') && l.includes('"applied":true'))).toBe(true);
  });

  it('a retry of an unknown outcome that meets its own create (CONFLICT) answers it as created', async () => {
    // The first try's create applies and is lost, and so is the lookup: the outcome stays unknown.
    stack.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
    stack.axisSim.addFault({ route: 'users.list', times: 3, action: { type: 'error', status: 503 } });
    const first = await stack.gql(CREATE, user('idem.own'), key('k-own'));
    expect(codes(first)).toEqual(['UPSTREAM_TIMEOUT']);
    expect(first.body.errors?.[0]?.extensions?.['outcome']).toBeUndefined();
    stack.axisSim.clearFaults();
    const again = await stack.gql(CREATE, user('idem.own'), key('k-own'));
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.errors).toBeUndefined();
    expect(created('idem.own')).toBe(1);
    // The same key with other content is still refused while the outcome was open.
    const other = await stack.gql(CREATE, user('idem.other'), key('k-own'));
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
  });

  it('a retry of an unknown outcome that is itself refused before applying still finds the first create', async () => {
    stack.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
    stack.axisSim.addFault({ route: 'users.list', times: 3, action: { type: 'error', status: 503 } });
    const first = await stack.gql(CREATE, user('idem.refusedretry'), key('k-refusedretry'));
    expect(codes(first)).toEqual(['UPSTREAM_TIMEOUT']);
    stack.axisSim.clearFaults();
    // This attempt's own create is refused (nothing applied by it), but the first one applied.
    stack.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'error', status: 403 } });
    const again = await stack.gql(CREATE, user('idem.refusedretry'), key('k-refusedretry'));
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data?.['createUser']).toMatchObject({ userName: 'idem.refusedretry' });
    expect(created('idem.refusedretry')).toBe(1);
  });

  it('a retry of an unknown outcome that applies nothing and cannot look is not NOT_APPLIED: the key stays open', async () => {
    // Its own stack: the injected 503s would open the shared stack's circuit breaker.
    await withStack({ env: { BREAKER_THRESHOLD: '100' } }, async (s) => {
      const made = () => s.axisSim.state().users.filter((u) => u.userName === 'idem.stillopen').length;
      s.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
      s.axisSim.addFault({ route: 'users.list', times: 3, action: { type: 'error', status: 503 } });
      await s.gql(CREATE, user('idem.stillopen'), key('k-stillopen'));
      s.axisSim.clearFaults();
      // This attempt's create is refused and its look-up fails: the first create's effect is still unknown.
      s.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'error', status: 403 } });
      s.axisSim.addFault({ route: 'users.list', times: 3, action: { type: 'error', status: 503 } });
      const again = await s.gql(CREATE, user('idem.stillopen'), key('k-stillopen'));
      expect(again.body.errors).toHaveLength(1);
      expect(again.body.errors?.[0]?.extensions?.['outcome']).toBeUndefined();
      s.axisSim.clearFaults();
      // Still open: the next retry with the key settles it (the first create), and that is final.
      const third = await s.gql(CREATE, user('idem.stillopen'), key('k-stillopen'));
      expect(third.headers['idempotent-replayed']).toBeUndefined();
      expect(third.body.errors).toBeUndefined();
      expect(made()).toBe(1);
      const fourth = await s.gql(CREATE, user('idem.stillopen'), key('k-stillopen'));
      expect(fourth.headers['idempotent-replayed']).toBe('true');
      const other = await s.gql(CREATE, user('idem.stillother'), key('k-stillopen'));
      expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    });
  });

  it('after "unreachable" before sending (connection refused), the same key runs for real', async () => {
    await withStack({ env: { AXIS_BASE_URL: 'http://127.0.0.1:9', UPSTREAM_RETRIES: '0' } }, async (dead) => {
      const first = await dead.gql(CREATE, user('idem.refused'), key('k-refused'));
      expect(codes(first)).toEqual(['UPSTREAM_UNAVAILABLE']);
      const again = await dead.gql(CREATE, user('idem.refused'), key('k-refused'));
      expect(again.headers['idempotent-replayed']).toBeUndefined();
    });
  });

  it('queries ignore the header; a malformed key is BAD_REQUEST', async () => {
    await stack.gql('{ azureStatus { state } }', undefined, key('k-query'));
    const q = await stack.gql('{ azureStatus { state } }', undefined, key('k-query'));
    expect(q.headers['idempotent-replayed']).toBeUndefined();
    expect(stack.calls()['npm:status.get']).toBe(2);
    const bad = await stack.gql(CREATE, user('idem.bad'), key('x'.repeat(300)));
    expect(codes(bad)).toEqual(['BAD_REQUEST']);
    expect(created('idem.bad')).toBe(0);
  });
});
