import type { ReplaySelect } from '../store/store.js';
import { eventMatches, typeMatches } from './filter.js';

/**
 * A replay sends an endpoint the events it would have received (its types and filter) within the
 * range, narrowed further by the replay's own types when given.
 */
export const selectForReplay: ReplaySelect = (events, endpoint, types) =>
  events.filter(
    (event) =>
      eventMatches({ eventTypes: endpoint.eventTypes, filter: endpoint.filter as never }, event) &&
      (types.length === 0 || typeMatches(types, event.type)),
  );
