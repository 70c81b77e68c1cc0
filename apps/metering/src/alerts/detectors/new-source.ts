import type { UsageRecorded } from '@keyplane/contracts';
import { isoOf, MINUTE_MS, windowStart } from '../../windows/utc-window.js';
import type { AlertCandidate } from '../alert-candidate.js';
import type { AlertThresholds } from '../thresholds.js';

/** What is known of a key's client addresses before this batch (only those the batch uses). */
export interface KeySources {
  /** When the key was first seen from any address; null for a key never seen. */
  firstSeenAt: number | null;
  /** Requests seen from all its addresses. */
  requests: number;
  /** How many addresses it has been seen from. */
  sourceCount: number;
  /** Which of the batch's addresses it has been seen from already. */
  known: ReadonlySet<string>;
}

export interface SourceUse {
  keyId: string;
  clientIp: string;
  firstSeenAt: string;
  lastSeenAt: string;
  requests: number;
}

export interface NewSourceResult {
  candidates: AlertCandidate[];
  /** Per key and address, what this batch adds to the known sources. */
  uses: SourceUse[];
}

const neverSeen: KeySources = { firstSeenAt: null, requests: 0, sourceCount: 0, known: new Set() };

/** What new_source knows before a batch. */
export interface NewSourceState {
  sources: ReadonlyMap<string, KeySources>;
  /** new_source alerts already raised, per `hourOfKey`. */
  alertsPerHour: ReadonlyMap<string, number>;
}

/** Counts new_source alerts per key and UTC hour. */
export const hourOfKey = (keyId: string, at: number): string => `${keyId}|${windowStart(at, 'hour')}`;

/**
 * new_source: an established key used from an address it was never seen from. A key is
 * established once its first address is `newSourceMinAgeMinutes` old or it has made
 * `newSourceMinRequests` requests, so a brand-new key's first calls (a CI runner, a laptop,
 * then production) do not page. Only requests with a valid key count (an unauthorized use of
 * a revoked key is revoked_key_use's business). At most `newSourceMaxPerHour` alerts per key and
 * UTC hour, the last one saying so: a key used from a pool of addresses that keeps changing (a
 * mobile app's, serverless functions') or a leaked key used from a botnet's would otherwise
 * raise one alert, and one webhook POST, per address. An address past the limit is learned all
 * the same. `events` must be sorted by occurredAt.
 */
export function detectNewSources(
  events: readonly UsageRecorded[],
  { sources, alertsPerHour }: NewSourceState,
  thresholds: AlertThresholds,
): NewSourceResult {
  const state = new Map<string, { firstSeenAt: number | null; requests: number; sourceCount: number; known: Set<string> }>();
  const raised = new Map(alertsPerHour);
  const uses = new Map<string, SourceUse>();
  const candidates: AlertCandidate[] = [];
  for (const event of events) {
    if (event.keyId === null || event.outcome === 'unauthorized') continue;
    const at = Date.parse(event.occurredAt);
    let key = state.get(event.keyId);
    if (!key) {
      const before = sources.get(event.keyId) ?? neverSeen;
      key = { ...before, known: new Set(before.known) };
      state.set(event.keyId, key);
    }
    if (!key.known.has(event.clientIp)) {
      const firstSeenAt = key.firstSeenAt;
      const established =
        firstSeenAt !== null && (at - firstSeenAt >= thresholds.newSourceMinAgeMinutes * MINUTE_MS || key.requests >= thresholds.newSourceMinRequests);
      const hour = hourOfKey(event.keyId, at);
      const alertsThisHour = raised.get(hour) ?? 0;
      if (established && alertsThisHour < thresholds.newSourceMaxPerHour) {
        raised.set(hour, alertsThisHour + 1);
        const last = alertsThisHour + 1 === thresholds.newSourceMaxPerHour;
        candidates.push({
          type: 'new_source',
          severity: 'warning',
          subject: `${event.keyId}|${event.clientIp}`,
          windowStart: isoOf(windowStart(at, 'hour')),
          keyId: event.keyId,
          accountId: event.accountId,
          detectedAt: event.occurredAt,
          summary: `Key ${event.keyId} was used from ${event.clientIp} for the first time${last ? '; further new addresses of this key raise no alert until the next hour' : ''}`,
          evidence: {
            clientIp: event.clientIp,
            userAgent: event.userAgent,
            knownSources: key.sourceCount,
            keyFirstSeenAt: isoOf(firstSeenAt),
            eventId: event.eventId,
            lastAlertThisHour: last,
          },
        });
      }
      key.known.add(event.clientIp);
      key.sourceCount += 1;
    }
    key.requests += 1;
    key.firstSeenAt = key.firstSeenAt === null ? at : Math.min(key.firstSeenAt, at);
    const useId = `${event.keyId}|${event.clientIp}`;
    const use = uses.get(useId);
    if (use) {
      use.requests += 1;
      if (event.occurredAt < use.firstSeenAt) use.firstSeenAt = event.occurredAt;
      if (event.occurredAt > use.lastSeenAt) use.lastSeenAt = event.occurredAt;
    } else {
      uses.set(useId, { keyId: event.keyId, clientIp: event.clientIp, firstSeenAt: event.occurredAt, lastSeenAt: event.occurredAt, requests: 1 });
    }
  }
  return { candidates, uses: [...uses.values()].sort((a, b) => (`${a.keyId}|${a.clientIp}` < `${b.keyId}|${b.clientIp}` ? -1 : 1)) };
}
