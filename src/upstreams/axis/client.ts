import type { CallContext, UpstreamHttp, UpstreamRequest } from '../http.js';
import { axisGroupPageWire, axisGroupWire, axisUserPageWire, axisUserWire, toGroupWire, toUserWire } from './types.js';
import type { AxisGroup, AxisGroupWrite, AxisPage, AxisUser, AxisUserWrite } from './types.js';

export interface PageRequest {
  pageNumber: number;
  pageSize: number;
}

/**
 * Domain methods over the Axis Atmos IdP management API. Paths are `<prefix>/users`,
 * `<prefix>/groups`, `<prefix>/commit`: the document's lowercase form; the vendor's Swagger
 * writes `/api/v1.0/Users`, so the prefix is configuration (AXIS_API_PREFIX).
 */
export class AxisClient {
  private readonly authorization: string;

  constructor(
    private readonly http: UpstreamHttp,
    private readonly prefix: string,
    apiToken: string,
  ) {
    this.authorization = `Bearer ${apiToken}`;
  }

  listUsers(page: PageRequest, call?: CallContext): Promise<AxisPage<AxisUser>> {
    return this.send({
      route: 'users.list',
      method: 'GET',
      path: '/users',
      query: { ...page },
      schema: axisUserPageWire,
      call,
    });
  }

  getUser(id: string, call?: CallContext): Promise<AxisUser> {
    return this.send({ route: 'users.get', method: 'GET', path: userPath(id), schema: axisUserWire, call });
  }

  createUser(user: AxisUserWrite, call?: CallContext): Promise<AxisUser> {
    return this.send({
      route: 'users.create',
      method: 'POST',
      path: '/users',
      body: toUserWire(user),
      schema: axisUserWire,
      call,
    });
  }

  updateUser(id: string, user: AxisUserWrite, call?: CallContext): Promise<AxisUser> {
    return this.send({
      route: 'users.update',
      method: 'PUT',
      path: userPath(id),
      body: toUserWire(user),
      schema: axisUserWire,
      call,
    });
  }

  async deleteUser(id: string, call?: CallContext): Promise<void> {
    await this.send({ route: 'users.delete', method: 'DELETE', path: userPath(id), call });
  }

  listGroups(page: PageRequest, call?: CallContext): Promise<AxisPage<AxisGroup>> {
    return this.send({
      route: 'groups.list',
      method: 'GET',
      path: '/groups',
      query: { ...page },
      schema: axisGroupPageWire,
      call,
    });
  }

  getGroup(id: string, call?: CallContext): Promise<AxisGroup> {
    return this.send({ route: 'groups.get', method: 'GET', path: groupPath(id), schema: axisGroupWire, call });
  }

  createGroup(group: AxisGroupWrite, call?: CallContext): Promise<AxisGroup> {
    return this.send({
      route: 'groups.create',
      method: 'POST',
      path: '/groups',
      body: toGroupWire(group),
      schema: axisGroupWire,
      call,
    });
  }

  updateGroup(id: string, group: AxisGroupWrite, call?: CallContext): Promise<AxisGroup> {
    return this.send({
      route: 'groups.update',
      method: 'PUT',
      path: groupPath(id),
      body: toGroupWire(group),
      schema: axisGroupWire,
      call,
    });
  }

  async deleteGroup(id: string, call?: CallContext): Promise<void> {
    await this.send({ route: 'groups.delete', method: 'DELETE', path: groupPath(id), call });
  }

  /** Applies the tenant's pending changes; nothing written through the API is live before it. */
  async commit(call?: CallContext): Promise<void> {
    await this.send({ route: 'commit', method: 'POST', path: '/commit', call });
  }

  private send<T>(req: Omit<UpstreamRequest<T>, 'headers'>): Promise<T> {
    return this.http.request({ ...req, path: this.prefix + req.path, headers: { authorization: this.authorization } });
  }
}

// Ids go through encodeURIComponent so an id like `../groups/x` stays one path segment.
const userPath = (id: string) => `/users/${encodeURIComponent(id)}`;
const groupPath = (id: string) => `/groups/${encodeURIComponent(id)}`;
