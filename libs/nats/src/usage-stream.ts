import type { Namespace } from '@keyplane/contracts';
import type { StreamSpec } from './streams.js';

/**
 * A week: how long metering may be away (or behind) and still count every event. Metering
 * has stored what it read long before this; without a limit the stream would grow by every
 * request the API ever served.
 */
export const DEFAULT_USAGE_STREAM_MAX_AGE_HOURS = 168;

/** The usage stream; auth makes it when missing, metering owns its limits (USAGE_STREAM_MAX_AGE_HOURS). */
export function usageEventStream(ns: Namespace, maxAgeHours = DEFAULT_USAGE_STREAM_MAX_AGE_HOURS): StreamSpec {
  return { name: ns.streams.usageEvents, subjects: [ns.subjects.usageEvents], maxAgeSeconds: maxAgeHours * 3600 };
}
