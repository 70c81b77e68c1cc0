import type { AlertCandidate } from '../alert-candidate.js';
import type { AlertThresholds } from '../thresholds.js';

export interface SpikeVerdict {
  spike: boolean;
  /** Requests the hour must reach to count as a spike, or null while the key has no baseline yet. */
  threshold: number | null;
  median: number;
  mad: number;
  /** Hours with any traffic among the history. */
  activeHours: number;
}

/**
 * usage_spike: is `current` (requests so far in an hour) far above the key's own baseline?
 * The baseline is the median and the median absolute deviation of the key's active hours
 * among `history` (the previous 24 hours): robust to the odd earlier spike, and blind to idle
 * hours so a key used only in office hours is compared with its office hours. A key with too
 * few active hours has no baseline and never pages; nor does a quiet hour, whatever its ratio.
 */
export function evaluateSpike(current: number, history: readonly number[], thresholds: AlertThresholds): SpikeVerdict {
  const active = history.filter((count) => count > 0);
  const median = medianOf(active);
  const mad = medianOf(active.map((count) => Math.abs(count - median)));
  if (active.length < thresholds.spikeMinHistoryHours) {
    return { spike: false, threshold: null, median, mad, activeHours: active.length };
  }
  const threshold = Math.max(thresholds.spikeMinRequests, thresholds.spikeFactor * median, median + thresholds.spikeMadK * mad);
  return { spike: current >= threshold, threshold, median, mad, activeHours: active.length };
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One key's hour that this batch added requests to. */
export interface HourOfKey {
  keyId: string;
  accountId: string | null;
  hourStart: string;
  /** Requests in the hour including this batch's. */
  requests: number;
  /** The previous 24 hours' requests, oldest first, zeros included. */
  history: readonly number[];
  /** occurredAt of this batch's events in the hour, sorted. */
  newEventTimes: readonly string[];
}

export function detectUsageSpikes(hours: readonly HourOfKey[], thresholds: AlertThresholds): AlertCandidate[] {
  return hours.flatMap((hour): AlertCandidate[] => {
    const verdict = evaluateSpike(hour.requests, hour.history, thresholds);
    if (!verdict.spike || verdict.threshold === null) return [];
    // The event that took the hour over the threshold, when the stream arrives in order.
    const before = hour.requests - hour.newEventTimes.length;
    const crossing = Math.min(Math.max(Math.ceil(verdict.threshold) - before, 1), hour.newEventTimes.length) - 1;
    const requests = before + crossing + 1;
    return [
      {
        type: 'usage_spike',
        severity: 'warning',
        subject: hour.keyId,
        windowStart: hour.hourStart,
        keyId: hour.keyId,
        accountId: hour.accountId,
        detectedAt: hour.newEventTimes[crossing],
        summary: `Key ${hour.keyId} reached ${requests} requests in the hour from ${hour.hourStart}, against a usual ${verdict.median} per hour`,
        evidence: {
          hourStart: hour.hourStart,
          requests,
          threshold: verdict.threshold,
          baselineMedian: verdict.median,
          baselineMad: verdict.mad,
          activeHours: verdict.activeHours,
        },
      },
    ];
  });
}
