import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { RefusalLog } from '../http/refusal-log.js';

export interface SubscriptionLimitsOptions {
  /** Open subscriptions in all (MAX_SUBSCRIPTIONS). */
  max: number;
  /** Open subscriptions per caller: API key name or JWT subject (MAX_SUBSCRIPTIONS_PER_CALLER). */
  maxPerCaller: number;
  principals: WeakMap<Request, Principal>;
  refusals: RefusalLog;
}

function limitExceeded(message: string) {
  return createGraphQLError(message, {
    extensions: { code: 'SUBSCRIPTION_LIMIT_EXCEEDED', http: { status: 429, headers: { 'Retry-After': '60' } } },
  });
}

/**
 * Caps open subscription streams, per caller and in total, so that one key's streams
 * (about 57 KB and one file descriptor each) cannot lock everyone else out: a stream past a
 * cap is refused with SUBSCRIPTION_LIMIT_EXCEEDED (429) before it starts. A slot is given
 * back when the stream ends, however it ends (completed, client gone, server closing).
 */
export function useSubscriptionLimits({ max, maxPerCaller, principals, refusals }: SubscriptionLimitsOptions): Plugin {
  let open = 0;
  const byCaller = new Map<string, number>();
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      const principal = request && principals.get(request);
      // No principal: useClientAuth refuses the subscription itself.
      if (request === undefined || principal === undefined) return;
      const caller = `${principal.kind}:${principal.id}`;
      const mine = byCaller.get(caller) ?? 0;
      if (mine >= maxPerCaller || open >= max) {
        const perCaller = mine >= maxPerCaller;
        refusals.refused('subscription_limit', caller, perCaller ? { maxPerCaller } : { max });
        setResultAndStopExecution({
          errors: [
            limitExceeded(
              perCaller
                ? `This caller already has ${mine} open subscriptions, the limit (MAX_SUBSCRIPTIONS_PER_CALLER ${maxPerCaller}); close one first.`
                : `The gateway already serves ${open} subscriptions, its limit (MAX_SUBSCRIPTIONS ${max}); try again later.`,
            ) as never,
          ],
        });
        return;
      }
      open++;
      byCaller.set(caller, mine + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        open--;
        const left = (byCaller.get(caller) ?? 1) - 1;
        if (left > 0) byCaller.set(caller, left);
        else byCaller.delete(caller);
      };
      // Whatever happens to the stream, the client going away ends it.
      request.signal.addEventListener('abort', release, { once: true });
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) {
            release();
            return;
          }
          return { onEnd: release };
        },
      };
    },
  };
}
