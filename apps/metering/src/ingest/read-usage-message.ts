import { describeIssue, EventHeader, UsageRecorded } from '@keyplane/contracts';

export type DeadLetterKind = 'malformed_json' | 'not_an_event' | 'unknown_version' | 'schema_invalid' | 'rejected_by_database';

export interface Unreadable {
  ok: false;
  kind: DeadLetterKind;
  reason: string;
  type: string | null;
  version: number | null;
}

export type ReadResult = { ok: true; event: UsageRecorded } | Unreadable;

const decoder = new TextDecoder();

/**
 * Reads one message of the usage stream. Anything this consumer cannot count (not JSON,
 * not an event, a type or version it does not know, a v1 event that breaks its schema)
 * comes back with the reason, to be set aside rather than dropped or retried forever.
 */
export function readUsageMessage(data: Uint8Array): ReadResult {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (error) {
    // JSON.parse quotes the input in its message; keep only where it broke, never the payload.
    const position = /at position (\d+)/.exec((error as Error).message);
    const reason = position ? `malformed JSON at position ${position[1]}` : 'malformed JSON';
    return { ok: false, kind: 'malformed_json', reason, type: null, version: null };
  }
  const header = EventHeader.safeParse(json);
  if (!header.success) {
    return { ok: false, kind: 'not_an_event', reason: `not an event: ${describeIssue(header.error.issues[0])}`, type: null, version: null };
  }
  const { type, version } = header.data;
  if (type !== 'UsageRecorded' || version !== 1) {
    return { ok: false, kind: 'unknown_version', reason: `unknown event type or version: ${type} v${version}`, type, version };
  }
  const event = UsageRecorded.safeParse(json);
  if (!event.success) {
    return { ok: false, kind: 'schema_invalid', reason: `invalid ${type} v${version}: ${describeIssue(event.error.issues[0])}`, type, version };
  }
  // Stored and paged by millisecond time, so a cursor built from a stored row matches it exactly.
  return { ok: true, event: { ...event.data, occurredAt: new Date(event.data.occurredAt).toISOString() } };
}

/** The raw payload as text Postgres can hold (no NUL), for the dead-letter table. */
export function rawText(data: Uint8Array): string {
  return decoder.decode(data).replaceAll('\u0000', '\uFFFD');
}
