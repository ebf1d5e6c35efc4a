import type { Plugin } from 'graphql-yoga';
import { requestIdFor } from '../context.js';

/**
 * Gives every request an id (the caller's `x-request-id` when it is sane) that the
 * context's logger binds and the response echoes, so a client can quote it in a report.
 */
export function useRequestId(requestIds: WeakMap<Request, string>): Plugin {
  return {
    onRequest({ request }) {
      if (!requestIds.has(request)) requestIds.set(request, requestIdFor(request));
    },
    onResponse({ request, response }) {
      const id = requestIds.get(request);
      if (id !== undefined) response.headers.set('x-request-id', id);
    },
  };
}
