import { createHash } from 'node:crypto';
import { encodeTime } from 'ulid';
import type { AlertType, Severity } from '@keyplane/contracts';

/** An anomaly a detector found; stored as an alert unless its dedup key is already taken. */
export interface AlertCandidate {
  type: AlertType;
  severity: Severity;
  /** What the alert is about: a key id, or a client address when no key is involved. */
  subject: string;
  /** The window the alert covers; one alert per type, subject and window. */
  windowStart: string;
  keyId: string | null;
  accountId: string | null;
  /** The occurredAt of the event that tipped it: detectors run on event time, not wall time. */
  detectedAt: string;
  summary: string;
  evidence: Record<string, unknown>;
}

export const dedupKey = (candidate: Pick<AlertCandidate, 'type' | 'subject' | 'windowStart'>): string =>
  `${candidate.type}|${candidate.subject}|${candidate.windowStart}`;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * `alrt_` and a ULID made from the dedup key alone: its time is the window's start and its other
 * 80 bits come from SHA-256 of the key. The same anomaly gets the same id whichever replica or
 * replay raises it, even into a rebuilt database, so the ALERTS stream (msgID) and a webhook
 * receiver (X-Keyplane-Alert-Id) can recognise it as one they already have.
 */
export function alertId(candidate: Pick<AlertCandidate, 'type' | 'subject' | 'windowStart'>): string {
  const digest = createHash('sha256').update(dedupKey(candidate)).digest();
  const tail = Array.from(digest.subarray(0, 16), (byte) => CROCKFORD[byte & 31]).join('');
  // A ULID's time cannot be before 1970; the contracts allow events from the year 0001, and their
  // ids stay apart by the digest.
  return `alrt_${encodeTime(Math.max(0, Date.parse(candidate.windowStart)), 10)}${tail}`;
}

/** One candidate per dedup key, the earliest detection, in detection order. */
export function uniqueCandidates(candidates: readonly AlertCandidate[]): AlertCandidate[] {
  const first = new Map<string, AlertCandidate>();
  for (const candidate of candidates) {
    const key = dedupKey(candidate);
    const seen = first.get(key);
    if (!seen || candidate.detectedAt < seen.detectedAt) first.set(key, candidate);
  }
  return [...first.values()].sort((a, b) => (a.detectedAt < b.detectedAt ? -1 : a.detectedAt > b.detectedAt ? 1 : 0));
}
