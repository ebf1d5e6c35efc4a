import { describe, expect, it } from 'vitest';
import type { GatewayContext } from '../../src/context.js';
import { ENTITIES_PER_TURN, RequestBudget } from '../../src/request-budget.js';
import { GROUP_REFS, USER_REFS, answerRefs } from '../../src/resolvers/entities.js';
import type { AxisGroup, AxisRef, AxisUser } from '../../src/upstreams/axis/types.js';
import { axisUser } from '../helpers/axis-fixtures.js';

const user = axisUser;

/** A context whose loaders hold `held` and load the rest (null: gone), counting the loads. */
function contextWith(held: AxisUser[], tenant: AxisUser[], budget?: RequestBudget) {
  const loads: string[] = [];
  const byId = new Map(tenant.map((u) => [u.id, u]));
  const peeked = new Map(held.map((u) => [u.id, u]));
  const ctx = {
    call: { budget },
    loaders: {
      peekUser: (id: string) => peeked.get(id),
      peekGroup: () => undefined,
      userById: {
        load: (id: string) => {
          loads.push(id);
          return Promise.resolve(byId.get(id) ?? null);
        },
      },
      groupById: { load: () => Promise.resolve(null) },
    },
  } as unknown as GatewayContext;
  return { ctx, loads };
}

const refs = (...ids: Array<[string, string | null]>): AxisRef[] => ids.map(([id, name]) => ({ id, name }));

describe('answerRefs: what user.groups and group.users answer', () => {
  it('a selection a reference answers gets the references, synchronously, with no load', () => {
    const { ctx, loads } = contextWith([], []);
    const out = answerRefs(USER_REFS, refs(['u1', 'ann'], ['u2', 'bob']), new Set(['id', 'userName']), ctx);
    expect(out).toEqual([
      { kind: 'ref', id: 'u1', userName: 'ann' },
      { kind: 'ref', id: 'u2', userName: 'bob' },
    ]);
    expect(loads).toEqual([]);
  });

  it('a reference without its display name is loaded when the name is asked for, and only then', async () => {
    const { ctx, loads } = contextWith([], [user('u2')]);
    const two = refs(['u1', 'ann'], ['u2', null]);
    expect(answerRefs(USER_REFS, two, new Set(['id']), ctx)).toEqual([
      { kind: 'ref', id: 'u1', userName: 'ann' },
      { kind: 'ref', id: 'u2', userName: null },
    ]);
    expect(loads).toEqual([]);
    const named = await answerRefs(USER_REFS, two, new Set(['id', 'userName']), ctx);
    expect(named).toEqual([{ kind: 'ref', id: 'u1', userName: 'ann' }, user('u2')]);
    expect(loads).toEqual(['u2']);
  });

  it('a selection beyond the reference gets whole entities: held ones at once, the rest through the loader', async () => {
    const held = synchronousOrNot(() => {
      const { ctx, loads } = contextWith([user('u1'), user('u2')], []);
      const out = answerRefs(USER_REFS, refs(['u1', 'ann'], ['u2', 'bob']), new Set(['id', 'email']), ctx);
      return { out, loads };
    });
    expect(held.out).toEqual([user('u1'), user('u2')]);
    expect(held.loads).toEqual([]);

    const { ctx, loads } = contextWith([user('u1')], [user('u1'), user('u3')]);
    const out = answerRefs(USER_REFS, refs(['u1', 'ann'], ['u3', 'cy']), new Set(['email']), ctx);
    expect(out).toBeInstanceOf(Promise);
    expect(await out).toEqual([user('u1'), user('u3')]);
    expect(loads).toEqual(['u3']);
  });

  it('an entity gone between the two reads fails the list with NOT_FOUND', async () => {
    const { ctx } = contextWith([], []);
    await expect(answerRefs(USER_REFS, refs(['u9', 'gone']), new Set(['email']), ctx)).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    await expect(
      answerRefs(GROUP_REFS, [{ id: 'g9', name: null }], new Set(['name']), ctx) as Promise<AxisGroup[]>,
    ).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });

  it('loads wait for a turn of their own when the request has used this turn up', async () => {
    const budget = new RequestBudget({ maxUpstreamCalls: 100, maxEntities: 100_000, maxConcurrentCalls: 4 });
    budget.pace('filler', ENTITIES_PER_TURN); // this turn's slice is spent
    const { ctx, loads } = contextWith([], [user('u1')], budget);
    const out = answerRefs(USER_REFS, refs(['u1', 'ann']), new Set(['email']), ctx);
    expect(loads).toEqual([]); // not started in this turn
    expect(await out).toEqual([user('u1')]);
    expect(loads).toEqual(['u1']);
  });
});

function synchronousOrNot<T extends { out: unknown }>(run: () => T): T {
  const result = run();
  expect(result.out).not.toBeInstanceOf(Promise);
  return result;
}
