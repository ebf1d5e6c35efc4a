import { GatewayError, toGatewayError } from '../errors.js';
import { UpstreamError } from '../upstreams/upstream-error.js';
import type { GatewayContext } from '../context.js';
import type { MutationResolvers } from '../generated/resolvers-types.js';
import type { AxisUserWrite } from '../upstreams/axis/types.js';
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
 * write is committed at once (what the vendor's own scripts do). A failed commit leaves the
 * change staged in the IdP, so the error says so instead of pretending nothing happened.
 */
async function commitIfAuto(ctx: GatewayContext): Promise<void> {
  if (!ctx.axisAutoCommit) return;
  try {
    await ctx.axis.commit(ctx.call);
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    const mapped = toGatewayError(err);
    throw new GatewayError(
      mapped.code,
      `The change was saved in Axis IdP but committing it failed (${mapped.message}) Run commitAxisChanges to apply it.`,
      { ...mapped.extensions, staged: true },
    );
  }
}

/**
 * Writes go through `ctx.npm` and `ctx.axis`, which tell the request's loaders what changed
 * (src/loaders.ts), so a field read after a write in the same request never sees the old state.
 */
export const Mutation: MutationResolvers = {
  setAzureSyncEnabled: async (_parent, args, ctx) => {
    await ctx.npm.setSyncEnabled(args.enabled, ctx.call);
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
    const user = await ctx.axis.createUser(
      {
        userName: input.userName,
        email: input.email,
        firstName: input.firstName,
        lastName: input.lastName,
        enabled: input.enabled ?? true,
        expiration: input.expiration ?? null,
        groupIds: input.groupIds ?? [],
        ...(input.sshPrivateKey ? { sshPrivateKey: input.sshPrivateKey } : {}),
      },
      ctx.call,
    );
    await commitIfAuto(ctx);
    return user;
  },

  updateUser: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    const input = validate(updateUserInput, args.input, 'input');
    // Axis PUT replaces the whole user: read it fresh, merge, write everything back, so an
    // omitted field (memberships included) keeps its value.
    const current = await ctx.axis.getUser(id, ctx.call);
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
    const user = await ctx.axis.updateUser(id, merged, ctx.call);
    await commitIfAuto(ctx);
    return user;
  },

  deleteUser: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    await ctx.axis.deleteUser(id, ctx.call);
    await commitIfAuto(ctx);
    return id;
  },

  createGroup: async (_parent, args, ctx) => {
    const input = validate(createGroupInput, args.input, 'input');
    const group = await ctx.axis.createGroup(
      { name: input.name, description: input.description ?? null, userIds: input.userIds ?? [] },
      ctx.call,
    );
    await commitIfAuto(ctx);
    return group;
  },

  updateGroup: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    const input = validate(updateGroupInput, args.input, 'input');
    // Same read-merge-write as updateUser: a new description must never drop the members.
    const current = await ctx.axis.getGroup(id, ctx.call);
    const group = await ctx.axis.updateGroup(
      id,
      {
        name: input.name ?? current.name,
        description: input.description === undefined ? current.description : input.description,
        userIds: input.userIds ?? current.users.map((u) => u.id),
      },
      ctx.call,
    );
    await commitIfAuto(ctx);
    return group;
  },

  deleteGroup: async (_parent, args, ctx) => {
    const id = validate(idSchema, args.id, 'id');
    await ctx.axis.deleteGroup(id, ctx.call);
    await commitIfAuto(ctx);
    return id;
  },

  commitAxisChanges: async (_parent, _args, ctx) => {
    await ctx.axis.commit(ctx.call);
    return true;
  },
};
