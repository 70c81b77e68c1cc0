import type { TimedEvent } from './sliding-burst.js';

/** A stored event as the burst detectors see it, sorted by time per subject. */
export interface RecentEvent extends TimedEvent {
  eventId: string;
  keyId: string | null;
  accountId: string | null;
  clientIp: string;
  permission: string | null;
}
