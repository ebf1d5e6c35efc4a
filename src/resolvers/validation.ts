import { z } from 'zod';
import { badUserInput } from '../errors.js';

/**
 * Input checks that run before any upstream call, so a bad value costs no upstream traffic
 * and the caller learns which field to fix. GraphQL has already checked types and
 * nullability of declared non-null fields; these add what the SDL cannot say.
 */

/**
 * Ids go into URL paths (encoded), but `.` and `..` survive encodeURIComponent and would be
 * resolved as path segments by proxies; control characters have no business in an id.
 */
export const idSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((v) => v !== '.' && v !== '..', 'is not a valid id')
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters')
  // A lone surrogate survives JSON and graphql-js but cannot be put in a URL.
  .refine((v) => v.isWellFormed(), 'must be valid Unicode (no lone surrogates)');

const text = (max = 256) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((v) => v.trim() !== '', 'must not be empty');

const email = z.email({ message: 'must be an email address' }).max(320, 'must be at most 320 characters');

/** Null is only meaningful where the contract gives it a meaning (expiration, description, sshPrivateKey). */
const notNull = <T extends z.ZodType>(schema: T) =>
  schema
    .nullable()
    .refine((v) => v !== null, 'must not be null')
    .transform((v) => v as z.output<T>);

const uniqueIds = z
  .array(idSchema)
  .max(1000, 'must hold at most 1000 ids')
  .refine((ids) => new Set(ids).size === ids.length, 'must not repeat an id');

const date = z.date({ message: 'must be a date-time' });

export const createUserInput = z.object({
  userName: text(),
  email,
  firstName: text(),
  lastName: text(),
  enabled: z.boolean().nullish(),
  expiration: date.nullish(),
  groupIds: uniqueIds.nullish(),
  sshPrivateKey: text(16_384).nullish(),
});

export const updateUserInput = z.object({
  userName: notNull(text()).optional(),
  email: notNull(email).optional(),
  firstName: notNull(text()).optional(),
  lastName: notNull(text()).optional(),
  enabled: notNull(z.boolean()).optional(),
  expiration: date.nullish(),
  groupIds: notNull(uniqueIds).optional(),
  sshPrivateKey: text(16_384).nullish(),
});

export const createGroupInput = z.object({
  name: text(),
  description: z.string().max(1024, 'must be at most 1024 characters').nullish(),
  userIds: uniqueIds.nullish(),
});

export const updateGroupInput = z.object({
  name: notNull(text()).optional(),
  description: z.string().max(1024, 'must be at most 1024 characters').nullish(),
  userIds: notNull(uniqueIds).optional(),
});

export const azureAccountsInput = z
  .array(
    z.object({
      accId: idSchema,
      tenantId: text(),
      subscriptionId: text(),
      appId: text(),
      appPassword: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
    }),
  )
  .min(1, 'must hold at least one account')
  .max(1000, 'must hold at most 1000 accounts')
  .refine((list) => new Set(list.map((a) => a.accId)).size === list.length, 'must not repeat an accId');

export const accIdsInput = z
  .array(idSchema)
  .min(1, 'must hold at least one id')
  .max(1000, 'must hold at most 1000 ids');

export const pageArgs = z.object({
  pageSize: z.number().int().min(1, 'must be between 1 and 1000').max(1000, 'must be between 1 and 1000'),
  pageNumber: z.number().int().min(1, 'must be 1 or more'),
});

function fieldName(root: string, path: ReadonlyArray<PropertyKey>): string {
  let name = root;
  for (const part of path) name += typeof part === 'number' ? `[${part}]` : `${name === '' ? '' : '.'}${String(part)}`;
  return name;
}

/**
 * Parses `value` or throws BAD_USER_INPUT naming every bad field, e.g. `input.email` or
 * `accounts[1].tenantId`. `root` is the argument name ('' when the schema is an object of
 * several arguments). Values are never echoed: they may be secrets.
 */
export function validate<T extends z.ZodType>(schema: T, value: unknown, root: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw badUserInput(
    result.error.issues.map((issue) => ({ field: fieldName(root, issue.path), message: issue.message })),
  );
}
