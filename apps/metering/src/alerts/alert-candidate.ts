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
