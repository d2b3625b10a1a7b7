import { eventMatches } from '../delivery/filter.js';
import type { RouteEvent } from '../store/store.js';

/**
 * Fan-out: a new event goes to every routable endpoint (active or paused; a paused one accumulates)
 * whose event types and filter match it. Runs inside the pipeline's transaction.
 */
export const routeEvent: RouteEvent = (event, endpoints) =>
  endpoints.filter((endpoint) =>
    eventMatches({ eventTypes: endpoint.eventTypes, filter: endpoint.filter as never }, event),
  );
