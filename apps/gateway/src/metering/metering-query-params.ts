import { z } from 'zod';
import { AlertType, Cursor, Granularity, KeyId, Outcome } from '@keyplane/contracts';
import { checkQuery, type Checked } from '../management/query-input.js';
import { dateTimeParam, fromNotAfterTo, limitParam } from '../management/query-params.js';

// The query strings of the usage, usage-event and alert endpoints (DESIGN §7), checked at the
// edge so a 400 names the parameter as the client wrote it. Times leave normalized to UTC.

const HOUR_MS = 3_600_000;

/** Without `from`, usage covers the last 24 hours by hour, the last 30 days by day, up to `to`. */
const DEFAULT_USAGE_SPAN_MS: Record<Granularity, number> = { hour: 24 * HOUR_MS, day: 30 * 24 * HOUR_MS };

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`;

const UsageParams = z.strictObject({
  granularity: z.enum(Granularity.options, { error: 'must be "hour" or "day"' }).default('hour'),
  from: dateTimeParam('up').optional(),
  to: dateTimeParam('down').optional(),
});

const EventsParams = z.strictObject({
  from: dateTimeParam('up').optional(),
  to: dateTimeParam('down').optional(),
  outcome: z.enum(Outcome.options, { error: oneOf(Outcome.options) }).optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

const AlertsParams = z.strictObject({
  keyId: KeyId.optional(),
  type: z.enum(AlertType.options, { error: oneOf(AlertType.options) }).optional(),
  since: dateTimeParam('up').optional(),
  limit: limitParam.optional(),
  cursor: Cursor.optional(),
});

export interface UsageRange {
  granularity: Granularity;
  from: string;
  to: string;
}
export type EventsFilter = z.infer<typeof EventsParams>;
export type AlertsFilter = z.infer<typeof AlertsParams>;

/** `to` defaults to `now`, `from` to the default span before `to`. How many windows a range may span is metering's to say. */
export function usageQuery(query: unknown, now: Date): Checked<UsageRange> {
  const checked = checkQuery(UsageParams, query);
  if (!checked.ok) return checked;
  const { granularity, from, to = now.toISOString() } = checked.value;
  return fromNotAfterTo({ ok: true, value: { granularity, from: from ?? new Date(Date.parse(to) - DEFAULT_USAGE_SPAN_MS[granularity]).toISOString(), to } });
}

export function eventsQuery(query: unknown): Checked<EventsFilter> {
  return fromNotAfterTo(checkQuery(EventsParams, query));
}

export function alertsQuery(query: unknown): Checked<AlertsFilter> {
  return checkQuery(AlertsParams, query);
}
