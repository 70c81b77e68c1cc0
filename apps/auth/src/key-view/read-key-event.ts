import { describeIssue, EventHeader, KEY_EVENT_TYPES, KeyEvent, type KeyEventType } from '@keyplane/contracts';
import { decodeJson } from '@keyplane/nats';

export type ReadKeyEvent =
  | { kind: 'event'; event: KeyEvent }
  /** A type or version this build does not know: skipped, and logged so it is never silent. */
  | { kind: 'unknown'; type: string; version: number }
  | { kind: 'malformed'; problem: string };

const KNOWN_VERSION = 1;
const knownTypes = new Set<string>(KEY_EVENT_TYPES);

/** Tells a v1 key event from an unknown type or version, and from bytes that are no event at all. */
export function readKeyEvent(bytes: Uint8Array): ReadKeyEvent {
  const body = decodeJson(bytes);
  if (body === undefined) return { kind: 'malformed', problem: 'not JSON' };
  // Nearly every message is a valid v1 event, which also passes the header check below: one
  // schema pass for it. Anything else is told apart as before.
  const valid = KeyEvent.safeParse(body);
  if (valid.success) return { kind: 'event', event: valid.data };
  const header = EventHeader.safeParse(body);
  if (!header.success) return { kind: 'malformed', problem: describeIssue(header.error.issues[0]) };
  const { type, version } = header.data;
  if (!knownTypes.has(type as KeyEventType) || version !== KNOWN_VERSION) return { kind: 'unknown', type, version };
  return { kind: 'malformed', problem: `${type}: ${describeIssue(valid.error.issues[0])}` };
}
