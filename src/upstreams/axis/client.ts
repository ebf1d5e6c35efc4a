import type { UpstreamHttp, UpstreamRequest } from '../http.js';
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

  listUsers(page: PageRequest, signal?: AbortSignal): Promise<AxisPage<AxisUser>> {
    return this.call({
      route: 'users.list',
      method: 'GET',
      path: '/users',
      query: { ...page },
      schema: axisUserPageWire,
      signal,
    });
  }

  getUser(id: string, signal?: AbortSignal): Promise<AxisUser> {
    return this.call({
      route: 'users.get',
      method: 'GET',
      path: `/users/${encodeURIComponent(id)}`,
      schema: axisUserWire,
      signal,
    });
  }

  createUser(user: AxisUserWrite): Promise<AxisUser> {
    return this.call({
      route: 'users.create',
      method: 'POST',
      path: '/users',
      body: toUserWire(user),
      schema: axisUserWire,
    });
  }

  updateUser(id: string, user: AxisUserWrite): Promise<AxisUser> {
    return this.call({
      route: 'users.update',
      method: 'PUT',
      path: `/users/${encodeURIComponent(id)}`,
      body: toUserWire(user),
      schema: axisUserWire,
    });
  }

  async deleteUser(id: string): Promise<void> {
    await this.call({ route: 'users.delete', method: 'DELETE', path: `/users/${encodeURIComponent(id)}` });
  }

  listGroups(page: PageRequest, signal?: AbortSignal): Promise<AxisPage<AxisGroup>> {
    return this.call({
      route: 'groups.list',
      method: 'GET',
      path: '/groups',
      query: { ...page },
      schema: axisGroupPageWire,
      signal,
    });
  }

  getGroup(id: string, signal?: AbortSignal): Promise<AxisGroup> {
    return this.call({
      route: 'groups.get',
      method: 'GET',
      path: `/groups/${encodeURIComponent(id)}`,
      schema: axisGroupWire,
      signal,
    });
  }

  createGroup(group: AxisGroupWrite): Promise<AxisGroup> {
    return this.call({
      route: 'groups.create',
      method: 'POST',
      path: '/groups',
      body: toGroupWire(group),
      schema: axisGroupWire,
    });
  }

  updateGroup(id: string, group: AxisGroupWrite): Promise<AxisGroup> {
    return this.call({
      route: 'groups.update',
      method: 'PUT',
      path: `/groups/${encodeURIComponent(id)}`,
      body: toGroupWire(group),
      schema: axisGroupWire,
    });
  }

  async deleteGroup(id: string): Promise<void> {
    await this.call({ route: 'groups.delete', method: 'DELETE', path: `/groups/${encodeURIComponent(id)}` });
  }

  /** Applies the tenant's pending changes; nothing written through the API is live before it. */
  async commit(): Promise<void> {
    await this.call({ route: 'commit', method: 'POST', path: '/commit' });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private call<T>(req: Omit<UpstreamRequest<T>, 'headers'>): Promise<T> {
    return this.http.request({ ...req, path: this.prefix + req.path, headers: { authorization: this.authorization } });
  }
}
