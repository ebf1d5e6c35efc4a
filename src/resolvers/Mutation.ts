import { GatewayError, codeForUpstreamError, markOutcome, toGatewayError, upstreamOutcome } from '../errors.js';
import { UpstreamError } from '../upstreams/upstream-error.js';
import { EntityLockTimeoutError } from '../stores/entity-lock.js';
import { EntityLockUnavailableError } from '../stores/redis-entity-lock.js';
import type { GatewayContext } from '../context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';
import type { AxisGroup, AxisGroupWrite, AxisPage, AxisUser, AxisUserWrite } from '../upstreams/axis/types.js';
import type { CloudStatus } from '../upstreams/npm/types.js';
import {
  accIdsInput,
  azureAccountsInput,
  createGroupInput,
  createUserInput,
  idSchema,
  updateGroupInput,
  updateUserInput,
  validate,
} from './validation.js';

/**
 * Axis changes take effect only after `POST commit`. With AXIS_AUTO_COMMIT every successful
 * write is committed at once (what the vendor's own scripts do). Commit applies whatever is
 * pending, so sending it again is harmless: an unknown outcome is tried once more. A commit
 * that still fails leaves the change staged in the IdP, and the error says so instead of
 * pretending nothing happened; it is not a key's final answer (a retry with the same key
 * finds the staged entity and commits it).
 */
async function commitIfAuto(ctx: GatewayContext): Promise<void> {
  if (!ctx.axisAutoCommit) return;
  try {
    await ctx.axis.commit(ctx.call).catch((err: unknown) => {
      if (err instanceof UpstreamError && upstreamOutcome(err) === 'unknown') return ctx.axis.commit(ctx.call);
      throw err;
    });
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    const mapped = toGatewayError(err);
    throw markOutcome(
      new GatewayError(
        mapped.code,
        `The change was saved in Axis IdP but committing it failed (${mapped.message}) Run commitAxisChanges to apply it.`,
        { ...mapped.extensions, staged: true },
      ),
      'unknown',
    );
  }
}

/**
 * A write the gateway knows applied nothing (never sent, refused, or checked afterwards):
 * `extensions.outcome: "NOT_APPLIED"` tells the client so, and an Idempotency-Key does not
 * keep it (a retry with the same key runs again).
 */
function notApplied(err: UpstreamError, message?: string): GatewayError {
  const mapped = toGatewayError(err);
  return markOutcome(
    new GatewayError(mapped.code, message ?? mapped.message, {
      ...mapped.extensions,
      outcome: 'NOT_APPLIED',
    }),
    'not_applied',
  );
}

/**
 * Settles a write whose request may or may not have been applied. `check` reads the
 * upstream afterwards and says what it finds: the written entity (the write applied: a
 * success), `false` (it did not: NOT_APPLIED), or throws (still unknown: the original error
 * stands, and is not kept under an Idempotency-Key).
 */
async function settled<T>(
  ctx: GatewayContext,
  route: string,
  write: () => Promise<T>,
  check: (err: UpstreamError) => Promise<T | false>,
  options: { settleConflict?: boolean } = {},
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    const outcome = upstreamOutcome(err);
    // A retry of a key whose first attempt had an unknown outcome: that attempt may have
    // applied, whatever this one did, so its effect is looked for all the same (it may even
    // meet its own create as a CONFLICT), and without a definite answer the key's outcome
    // stays unknown rather than NOT_APPLIED.
    const inheritsUnknown = ctx.idempotency?.retryOfUnknown === true;
    const ownConflict = options.settleConflict === true && inheritsUnknown && codeForUpstreamError(err) === 'CONFLICT';
    if (outcome === 'not_applied' && !inheritsUnknown) throw notApplied(err);
    let found: T | false;
    try {
      found = await check(err);
    } catch {
      throw inheritsUnknown ? markOutcome(err, 'unknown') : err;
    }
    ctx.call.log.info({ route, applied: found !== false, upstreamFailure: err.message }, 'write settled by lookup');
    if (found !== false) return found;
    if (ownConflict) throw notApplied(err);
    throw notApplied(
      err,
      `${toGatewayError(err).message} The gateway checked afterwards: the change was not applied. Try again.`,
    );
  }
}

/** Every page of a listing until `match` finds one (Axis has no filter by name). */
async function findInPages<E>(
  page: (pageNumber: number) => Promise<AxisPage<E>>,
  match: (entity: E) => boolean,
): Promise<E | undefined> {
  for (let pageNumber = 1; ; pageNumber++) {
    const found = await page(pageNumber);
    const hit = found.data.find(match);
    if (hit !== undefined || pageNumber >= found.totalPages || found.data.length === 0) return hit;
  }
}

const LOOKUP_PAGE_SIZE = 1000;
const sameIds = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

function userMatches(user: AxisUser, write: AxisUserWrite): boolean {
  return (
    user.userName === write.userName &&
    user.email === write.email &&
    user.firstName === write.firstName &&
    user.lastName === write.lastName &&
    user.enabled === write.enabled &&
    sameIds(
      user.groups.map((g) => g.id),
      write.groupIds,
    )
  );
}

function groupMatches(group: AxisGroup, write: AxisGroupWrite): boolean {
  return (
    group.name === write.name &&
    (group.description ?? null) === (write.description ?? null) &&
    sameIds(
      group.users.map((u) => u.id),
      write.userIds,
    )
  );
}

/** A GET answering 404 means the entity is gone; anything else is rethrown. */
async function gone(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return false;
  } catch (err) {
    if (err instanceof UpstreamError && codeForUpstreamError(err) === 'NOT_FOUND') return true;
    throw err;
  }
}

/** How often a write re-takes its locks because the entities it touches changed under it. */
const LOCK_ROUNDS = 3;

/** Runs `fn` holding the keys; a bounded wait that ran out is ENTITY_BUSY (nothing was sent). */
async function withEntityLocks<T>(ctx: GatewayContext, keys: readonly string[], fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.locks.withLocks(keys, fn);
  } catch (err) {
    if (err instanceof EntityLockUnavailableError) {
      // Without the fleet's lock a read-merge-write could undo another replica's change.
      throw sentNothing(
        ctx,
        'ENTITY_LOCK_UNAVAILABLE',
        'The shared lock store (Redis) is unreachable, so this change was not made. Try again shortly.',
      );
    }
    if (!(err instanceof EntityLockTimeoutError)) throw err;
    throw entityBusy(ctx, err.key);
  }
}

function entityBusy(ctx: GatewayContext, key: string): GatewayError {
  return sentNothing(
    ctx,
    'ENTITY_BUSY',
    `Another change to ${key.replace(':', ' ')} is still running; nothing was changed. Try again.`,
    { entity: key },
  );
}

/**
 * A refusal before anything was sent: NOT_APPLIED, unless this request retries a key whose
 * first attempt had an unknown outcome. That attempt may have applied, so the key's outcome
 * stays unknown (no `outcome` extension, not kept as final): a retry with the same key settles it.
 */
function sentNothing(
  ctx: GatewayContext,
  code: 'ENTITY_BUSY' | 'ENTITY_LOCK_UNAVAILABLE',
  message: string,
  extensions: Record<string, unknown> = {},
): GatewayError {
  if (ctx.idempotency?.retryOfUnknown === true)
    return markOutcome(
      new GatewayError(
        code,
        `${message} An earlier attempt with this Idempotency-Key may have applied: retry with the same key.`,
        extensions,
      ),
      'unknown',
    );
  return markOutcome(new GatewayError(code, message, { ...extensions, outcome: 'NOT_APPLIED' }), 'not_applied');
}

/**
 * A read-merge-write under the locks of every entity it touches. The set of keys depends on
 * the entity (its current memberships), so it is learnt from a first read, taken, and
 * checked against a fresh read inside the locks; when the set grew in between, the write
 * lets go and takes the larger set. The merge and the write run on the fresh read.
 */
async function lockedReadMergeWrite<E, R>(
  ctx: GatewayContext,
  read: () => Promise<E>,
  keysOf: (entity: E) => string[],
  write: (fresh: E) => Promise<R>,
): Promise<R> {
  let keys = keysOf(await read());
  for (let round = 1; ; round++) {
    const held = keys;
    const outcome = await withEntityLocks(ctx, held, async (): Promise<{ done: R } | { grew: string[] }> => {
      const fresh = await read();
      const needed = keysOf(fresh);
      if (needed.some((k) => !held.includes(k))) return { grew: needed };
      return { done: await write(fresh) };
    });
    if ('done' in outcome) return outcome.done;
    if (round >= LOCK_ROUNDS) throw entityBusy(ctx, held[0] ?? 'entity');
    keys = [...new Set([...held, ...outcome.grew])];
  }
}

const userKey = (id: string) => `user:${id}`;
const groupKey = (id: string) => `group:${id}`;

/**
 * Writes go through `ctx.npm` and `ctx.axis`, which tell the request's loaders what changed
 * (src/loaders.ts), so a field read after a write in the same request never sees the old state.
 */
export const Mutation: MutationResolvers = {
  setAzureSyncEnabled: async (_parent, args, ctx) => {
    // An idempotent PUT: an unknown outcome is settled by reading the status back.
    await settled(
      ctx,
      'syncStatus.put',
      () => ctx.npm.setSyncEnabled(args.enabled, ctx.call),
      async () => {
        const status: CloudStatus = await ctx.npm.getStatus(ctx.call);
        return status.enabled === args.enabled ? undefined : false;
      },
    );
    ctx.azureStatusFeed.nudge();
    return ctx.loaders.cloudStatus();
  },

  syncAzureAccounts: async (_parent, _args, ctx) => {
    await ctx.npm.syncNow(ctx.call);
    // Subscribers see SYNC_INITIALIZING now rather than at the next poll.
    ctx.azureStatusFeed.nudge();
    return ctx.loaders.cloudStatus();
  },

  upsertAzureAccounts: async (_parent, args, ctx) => {
    const accounts = validate(azureAccountsInput, args.accounts, 'accounts');
    // An unknown outcome stays unknown (the app password cannot be read back), and is not a
    // key's final answer: the PUT is idempotent, so a retry with the same key sends it again.
    await ctx.npm.upsertAccounts(accounts, ctx.call);
    // The PUT answers 204 with no body: read the accounts back as the appliance stored them.
    const stored = await ctx.loaders.azureAccountById.loadMany(accounts.map((a) => a.accId));
    return stored.map((account, i) => {
      if (account instanceof Error) throw account;
      if (account === null) {
        throw new GatewayError(
          'UPSTREAM_BAD_RESPONSE',
          `Riverbed NPM accepted account ${accounts[i]?.accId} but does not list it.`,
          {
            upstream: 'npm',
          },
        );
      }
      return account;
    });
  },

  deleteAzureAccounts: async (_parent, args, ctx) => {
    const accIds = validate(accIdsInput, args.accIds, 'accIds');
    await ctx.npm.deleteAccounts(accIds, ctx.call);
    return accIds;
  },

  createUser: async (_parent, args, ctx) => {
    const input = validate(createUserInput, args.input, 'input');
    const write: AxisUserWrite = {
      userName: input.userName,
      email: input.email,
      firstName: input.firstName,
      lastName: input.lastName,
      enabled: input.enabled ?? true,
      expiration: input.expiration ?? null,
      groupIds: input.groupIds ?? [],
      ...(input.sshPrivateKey ? { sshPrivateKey: input.sshPrivateKey } : {}),
    };
    // The new memberships touch those groups: a concurrent group write must not PUT them away.
    const user = await withEntityLocks(ctx, write.groupIds.map(groupKey), async () => {
      // userName is unique in the IdP: an unknown outcome is settled by looking it up.
      const created = await settled(
        ctx,
        'users.create',
        () => ctx.axis.createUser(write, ctx.call),
        async () =>
          (await findInPages(
            (pageNumber) => ctx.axis.listUsers({ pageNumber, pageSize: LOOKUP_PAGE_SIZE }, ctx.call),
            (u) => u.userName === write.userName && userMatches(u, write),
          )) ?? false,
        { settleConflict: true },
      );
      await commitIfAuto(ctx);
      return created;
    });
    return user;
  },

  updateUser: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    const input = validate(updateUserInput, args.input, 'input');
    // Axis PUT replaces the whole user: read it fresh, merge, write everything back, so an
    // omitted field (memberships included) keeps its value. The user and every group whose
    // membership it has or gets are locked: a group write PUTs its member list too.
    const user = await lockedReadMergeWrite(
      ctx,
      () => ctx.axis.getUser(id, ctx.call),
      (current) => [userKey(id), ...current.groups.map((g) => groupKey(g.id)), ...(input.groupIds ?? []).map(groupKey)],
      async (current) => {
        const merged: AxisUserWrite = {
          userName: input.userName ?? current.userName,
          email: input.email ?? current.email,
          firstName: input.firstName ?? current.firstName,
          lastName: input.lastName ?? current.lastName,
          enabled: input.enabled ?? current.enabled,
          expiration: input.expiration === undefined ? current.expiration : input.expiration,
          groupIds: input.groupIds ?? current.groups.map((g) => g.id),
          sshPrivateKey: input.sshPrivateKey,
        };
        // An idempotent PUT, still under the lock: an unknown outcome is settled by reading back.
        const written = await settled(
          ctx,
          'users.update',
          () => ctx.axis.updateUser(id, merged, ctx.call),
          async (err) => {
            // A new SSH key is write-only: reading back cannot tell whether it arrived, so
            // the outcome stays unknown (and the idempotent PUT runs again on a retry).
            if (typeof merged.sshPrivateKey === 'string') throw err;
            const now = await ctx.axis.getUser(id, ctx.call);
            return userMatches(now, merged) && (merged.sshPrivateKey !== null || !now.hasSshPrivateKey) ? now : false;
          },
        );
        await commitIfAuto(ctx);
        return written;
      },
    );
    return user;
  },

  deleteUser: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    await withEntityLocks(ctx, [userKey(id)], async () => {
      await settled(
        ctx,
        'users.delete',
        () => ctx.axis.deleteUser(id, ctx.call),
        async () => ((await gone(() => ctx.axis.getUser(id, ctx.call))) ? undefined : false),
      );
      await commitIfAuto(ctx);
    });
    return id;
  },

  createGroup: async (_parent, args, ctx) => {
    const input = validate(createGroupInput, args.input, 'input');
    const write: AxisGroupWrite = {
      name: input.name,
      description: input.description ?? null,
      userIds: input.userIds ?? [],
    };
    const group = await withEntityLocks(ctx, write.userIds.map(userKey), async () => {
      // Group names are unique in the IdP: an unknown outcome is settled by looking it up.
      const created = await settled(
        ctx,
        'groups.create',
        () => ctx.axis.createGroup(write, ctx.call),
        async () =>
          (await findInPages(
            (pageNumber) => ctx.axis.listGroups({ pageNumber, pageSize: LOOKUP_PAGE_SIZE }, ctx.call),
            (g) => g.name === write.name && groupMatches(g, write),
          )) ?? false,
        { settleConflict: true },
      );
      await commitIfAuto(ctx);
      return created;
    });
    return group;
  },

  updateGroup: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    const input = validate(updateGroupInput, args.input, 'input');
    // Same read-merge-write as updateUser: a new description must never drop the members.
    // The group and every user who is or becomes a member are locked, so a membership
    // change made through the group is ordered with user writes touching it.
    const group = await lockedReadMergeWrite(
      ctx,
      () => ctx.axis.getGroup(id, ctx.call),
      (current) => [groupKey(id), ...current.users.map((u) => userKey(u.id)), ...(input.userIds ?? []).map(userKey)],
      async (current) => {
        const merged: AxisGroupWrite = {
          name: input.name ?? current.name,
          description: input.description === undefined ? current.description : input.description,
          userIds: input.userIds ?? current.users.map((u) => u.id),
        };
        const written = await settled(
          ctx,
          'groups.update',
          () => ctx.axis.updateGroup(id, merged, ctx.call),
          async () => {
            const now = await ctx.axis.getGroup(id, ctx.call);
            return groupMatches(now, merged) ? now : false;
          },
        );
        await commitIfAuto(ctx);
        return written;
      },
    );
    return group;
  },

  deleteGroup: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    await withEntityLocks(ctx, [groupKey(id)], async () => {
      await settled(
        ctx,
        'groups.delete',
        () => ctx.axis.deleteGroup(id, ctx.call),
        async () => ((await gone(() => ctx.axis.getGroup(id, ctx.call))) ? undefined : false),
      );
      await commitIfAuto(ctx);
    });
    return id;
  },

  commitAxisChanges: async (_parent, _args, ctx) => {
    await ctx.axis.commit(ctx.call);
    return true;
  },
};
