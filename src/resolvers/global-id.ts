import { badUserInput } from '../errors.js';

/**
 * Opaque global ids for the Relay `Node` interface: `base64url("<Type>:<key>")`, where the key
 * is the entity's own id (the Axis id, the NPM `accId`; the one appliance's status has the
 * fixed key `npm`). Clients must treat them as opaque; the gateway decodes them to route
 * `node(id:)` to the right loader without trying every type.
 */
const NODE_TYPES = ['User', 'Group', 'AzureAccount', 'CloudStatus'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** The key of the one CloudStatus (one NPM appliance per gateway). */
export const CLOUD_STATUS_KEY = 'npm';

export function toGlobalId(type: NodeType, key: string): string {
  return Buffer.from(`${type}:${key}`, 'utf8').toString('base64url');
}

/** The type and key behind a global id, or undefined when it is not one of ours. */
export function fromGlobalId(id: string): { type: NodeType; key: string } | undefined {
  if (id.length === 0 || id.length > 400 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  // Round trip: rejects ids that only decode by accident (trailing bits, invalid UTF-8).
  if (Buffer.from(text, 'utf8').toString('base64url') !== id) return undefined;
  const colon = text.indexOf(':');
  const type = text.slice(0, colon) as NodeType;
  const key = text.slice(colon + 1);
  if (colon <= 0 || !NODE_TYPES.includes(type) || key === '') return undefined;
  if (type === 'CloudStatus' && key !== CLOUD_STATUS_KEY) return undefined;
  return { type, key };
}

/** Like fromGlobalId, for an argument: BAD_USER_INPUT naming the field when the id is not a global id. */
export function parseGlobalId(id: string, field: string): { type: NodeType; key: string } {
  const parsed = fromGlobalId(id);
  if (parsed === undefined) throw badUserInput([{ field, message: 'is not a node id (use the nodeId field)' }]);
  return parsed;
}
