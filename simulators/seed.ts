/**
 * Deterministic seed data for both simulators. The same options always give
 * the same data (no Math.random, no clock), so tests, the demo and the
 * benchmark can name seed ids directly: `u-0001`, `g-001`, `prod-eastus`.
 * Only NPM's status timestamps are relative to "now" (see npm-sim.ts).
 */

export interface SeedAzureAccount {
  readonly tenant_id: string;
  readonly subscription_id: string;
  readonly acc_id: string;
  readonly app_id: string;
  readonly app_passwd: string;
}

/** Three Azure accounts as an NPM appliance would hold them (GUIDs are made up). */
export const SEED_AZURE_ACCOUNTS: readonly SeedAzureAccount[] = Object.freeze([
  {
    tenant_id: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    subscription_id: '3c9d2f4e-8b1a-4e6f-9d2c-5a7b8e1f0c3d',
    acc_id: 'prod-eastus',
    app_id: 'b5e1c2d3-4f6a-47b8-9c0d-1e2f3a4b5c6d',
    app_passwd: 'demo-secret-prod-eastus',
  },
  {
    tenant_id: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    subscription_id: '8e4a1b7c-2d9f-4c3e-a6b5-0f1e2d3c4b5a',
    acc_id: 'staging-westeurope',
    app_id: 'c7f2d3e4-5a6b-48c9-8d0e-2f3a4b5c6d7e',
    app_passwd: 'demo-secret-staging-westeurope',
  },
  {
    tenant_id: '9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    subscription_id: 'f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f',
    acc_id: 'dev-centralus',
    app_id: 'd9a3e4f5-6b7c-49d0-9e1f-3a4b5c6d7e8f',
    app_passwd: 'demo-secret-dev-centralus',
  },
]);

export interface SeedUser {
  readonly id: string;
  readonly userName: string;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly enabled: boolean;
  readonly expiration: string | null;
  readonly sshPrivateKey: string | null;
  readonly groupIds: readonly string[];
}

interface SeedGroup {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
}

export interface AxisSeed {
  readonly users: readonly SeedUser[];
  readonly groups: readonly SeedGroup[];
}

const GROUPS: readonly (readonly [string, string | null])[] = [
  ['Engineering', 'Software engineers and SREs'],
  ['Sales', 'Account executives and sales engineers'],
  ['Support', 'Customer support, all tiers'],
  ['Finance', 'Finance and accounting'],
  ['Contractors', 'External contractors with time-limited access'],
  ['Marketing', null],
  ['Human Resources', 'People operations'],
  ['Legal', null],
  ['IT Operations', 'Internal IT and help desk'],
  ['Security', 'Security operations and incident response'],
  ['Product', 'Product managers and designers'],
  ['Executives', null],
];

const FIRST_NAMES = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Ava',
  'Elijah',
  'Sophia',
  'James',
  'Isabella',
  'Lucas',
  'Mia',
  'Mateo',
  'Amelia',
  'Ethan',
  'Harper',
  'Aiden',
  'Evelyn',
  'Oliver',
  'Priya',
  'Wei',
  'Fatima',
  'Kenji',
  'Ingrid',
  'Diego',
  'Chloe',
  'Omar',
  'Hana',
  'Lars',
  'Zara',
  'Tomasz',
] as const;

const LAST_NAMES = [
  'Smith',
  'Johnson',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Nguyen',
  'Patel',
  'Kim',
  'Schmidt',
  'Rossi',
  'Kowalski',
  'Tanaka',
  'Okafor',
  'Johansson',
  'Haddad',
] as const;

/** mulberry32: tiny, fast, good enough for reproducible choices (seed memberships, test mixes). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(list: readonly T[], index: number): T {
  const value = list[index % list.length];
  if (value === undefined) throw new Error('seed list is empty');
  return value;
}

/** Fixed-width ids keep lexical order equal to numeric order (lists are sorted by id). */
function seedUserId(n: number, total: number): string {
  return `u-${String(n).padStart(Math.max(4, String(total).length), '0')}`;
}

function seedGroupId(n: number, total: number): string {
  return `g-${String(n).padStart(Math.max(3, String(total).length), '0')}`;
}

export function createAxisSeed(userCount = 120, groupCount = 12): AxisSeed {
  const groups: SeedGroup[] = [];
  for (let i = 1; i <= groupCount; i++) {
    const template = GROUPS[i - 1];
    groups.push({
      id: seedGroupId(i, groupCount),
      name: template?.[0] ?? `Team ${i}`,
      description: template === undefined ? `Generated team ${i}` : template[1],
    });
  }

  const random = mulberry32(0x5eed_a715);
  const users: SeedUser[] = [];
  const takenNames = new Set<string>();
  for (let i = 1; i <= userCount; i++) {
    const firstName = pick(FIRST_NAMES, Math.floor(random() * FIRST_NAMES.length));
    const lastName = pick(LAST_NAMES, Math.floor(random() * LAST_NAMES.length));
    const base = `${firstName}.${lastName}`.toLowerCase();
    let userName = base;
    for (let n = 2; takenNames.has(userName); n++) userName = `${base}${n}`;
    takenNames.add(userName);

    const groupIds = new Set<string>();
    if (groups.length > 0) {
      const wanted = Math.min(groups.length, 1 + Math.floor(random() * 3));
      while (groupIds.size < wanted) groupIds.add(pick(groups, Math.floor(random() * groups.length)).id);
    }

    const id = seedUserId(i, userCount);
    users.push({
      id,
      userName,
      email: `${userName}@example.com`,
      firstName,
      lastName,
      // A few disabled accounts and a few with an automatic expiry, as a real tenant has.
      enabled: i % 13 !== 7,
      expiration: i % 9 === 4 ? new Date(Date.UTC(2027, 0, 1 + i, 17, 0, 0)).toISOString() : null,
      sshPrivateKey:
        i % 10 === 3
          ? `-----BEGIN OPENSSH PRIVATE KEY-----\nc2ltdWxhdGVkLWtleS0${id}\n-----END OPENSSH PRIVATE KEY-----\n`
          : null,
      groupIds: [...groupIds].sort(),
    });
  }
  return { users, groups };
}
