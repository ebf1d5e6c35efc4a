import type { AxisUser } from '../../src/upstreams/axis/types.js';

/** A whole Axis user in its domain form, for unit tests that hand entities to loaders and resolvers. */
export const axisUser = (id: string): AxisUser => ({
  id,
  userName: `user-${id}`,
  email: `${id}@example.com`,
  firstName: 'F',
  lastName: 'L',
  enabled: true,
  expiration: null,
  hasSshPrivateKey: false,
  groups: [],
});
