import type { SubscriptionResolvers } from '../generated/resolvers-types.js';
import type { AzureStatusEvent } from '../live/azure-status-feed.js';

export const Subscription: SubscriptionResolvers = {
  azureStatus: {
    // One poller per gateway serves every subscriber (src/live/azure-status-feed.ts).
    subscribe: (_parent, _args, ctx) => ctx.azureStatusFeed.subscribe(),
    // Runs once per event. A failed poll is thrown here, not from the iterator: graphql-js
    // makes a resolver error that event's `errors` (with `data: null`, the field being
    // non-null) and keeps the stream open, whereas an iterator that throws ends it.
    resolve: (event: AzureStatusEvent) => {
      if (event.error !== undefined) throw event.error;
      return event.status;
    },
  },
};
