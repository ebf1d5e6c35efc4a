import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack } from '../helpers/stack.js';

/**
 * Writes of one entity are serialised. Axis PUT replaces the whole user or group, so a
 * read-merge-write that overlaps another one loses the other's change. The simulator answers
 * every request after a small latency, so the two writes of each pair really overlap (both
 * reads land before either PUT without the locks: every one of these runs then fails).
 */

const RUNS = 20;
const LATENCY_MS = 15;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  stack.axisSim.setLatency(LATENCY_MS);
});
afterAll(() => stack.close());

const user = (id: string) => stack.axisSim.state().users.find((u) => u.id === id)!;
const group = (id: string) => stack.axisSim.state().groups.find((g) => g.id === id)!;
const userId = (n: number) => `u-${String(n).padStart(4, '0')}`;

describe('concurrent writes of one entity', () => {
  it(`two admins editing different fields of one user at once: both changes survive (${RUNS} runs)`, async () => {
    for (let run = 0; run < RUNS; run++) {
      const id = userId(1 + run);
      const [a, b] = await Promise.all([
        stack.gql(`mutation { updateUser(id: "${id}", input: { firstName: "First${run}" }) { id } }`),
        stack.gql(`mutation { updateUser(id: "${id}", input: { lastName: "Last${run}" }) { id } }`),
      ]);
      expect(a.body.errors, `run ${run}`).toBeUndefined();
      expect(b.body.errors, `run ${run}`).toBeUndefined();
      expect(user(id), `run ${run}`).toMatchObject({ firstName: `First${run}`, lastName: `Last${run}` });
    }
  });

  it(`an acknowledged enabled:false racing a rename is never undone (${RUNS} runs)`, async () => {
    const enabled = stack.axisSim
      .state()
      .users.filter((u, i) => i >= 30 && u.enabled)
      .map((u) => u.id);
    for (let run = 0; run < RUNS; run++) {
      const id = enabled[run]!;
      expect(user(id).enabled).toBe(true);
      const [disable, rename] = await Promise.all([
        stack.gql(`mutation { updateUser(id: "${id}", input: { enabled: false }) { id enabled } }`),
        stack.gql(`mutation { updateUser(id: "${id}", input: { userName: "renamed.${run}" }) { id } }`),
      ]);
      expect(disable.body.data?.['updateUser'], `run ${run}`).toEqual({ id, enabled: false });
      expect(rename.body.errors, `run ${run}`).toBeUndefined();
      expect(user(id), `run ${run}`).toMatchObject({ enabled: false, userName: `renamed.${run}` });
    }
  });

  it(`a group description edit racing a user's removal from that group never re-adds the user (${RUNS} runs)`, async () => {
    let checked = 0;
    for (let run = 0; run < RUNS; run++) {
      // A seed user with at least one group; remove them from their first group.
      const member = stack.axisSim.state().users.find((u, i) => i >= 60 + run * 2 && u.groupIds.length > 0)!;
      const groupId = member.groupIds[0]!;
      expect(group(groupId).userIds).toContain(member.id);
      const keep = member.groupIds.slice(1);
      const sendEdit = () =>
        stack.gql(`mutation { updateGroup(id: "${groupId}", input: { description: "edit ${run}" }) { id } }`);
      const sendRemoval = () =>
        stack.gql('mutation($id: ID!, $g: [ID!]) { updateUser(id: $id, input: { groupIds: $g }) { id } }', {
          id: member.id,
          g: keep,
        });
      // Either may start first: half the runs each way.
      let edit: GraphQLResponse;
      let removal: GraphQLResponse;
      if (run % 2 === 0) [edit, removal] = await Promise.all([sendEdit(), sendRemoval()]);
      else [removal, edit] = await Promise.all([sendRemoval(), sendEdit()]);
      expect(edit.body.errors, `run ${run}`).toBeUndefined();
      expect(removal.body.errors, `run ${run}`).toBeUndefined();
      expect(group(groupId), `run ${run}`).toMatchObject({ description: `edit ${run}` });
      expect(group(groupId).userIds, `run ${run}`).not.toContain(member.id);
      expect(user(member.id).groupIds, `run ${run}`).toEqual(keep);
      checked += 1;
    }
    expect(checked).toBe(RUNS);
  });
});
