/**
 * What a look at the stream found: the global positions carried by its first message and by the
 * last one that carries a position (0 when it holds none, or when they do not say; messages the
 * relay did not publish carry none), that last message's event id (Nats-Msg-Id; '' with no such
 * message, or when it names none), and whether messages were removed from inside it (a purge of one subject, a deleted message).
 */
export interface StreamEnds {
  first: number;
  last: number;
  lastEventId: string;
  gaps: boolean;
}

/**
 * What the relay makes of the stream:
 * - `intact`: the stream holds every event from the first stored one up to `after`; publish what
 *   comes after it. It may be ahead of the checkpoint (published, then the checkpoint's commit
 *   was lost).
 * - `remake`: the stream is missing, or has lost history: its last message is behind the
 *   checkpoint (it holds none, or stops short of events it acknowledged), or it no longer
 *   begins with the first stored event, or messages were removed from inside it. Or it is not
 *   this store's: its last message is not the event the store holds at that position (the store
 *   was restored to an earlier point, or failed over to a copy that lacked the last commits, and
 *   reused the positions). Make it anew and publish every stored event from the first. `lost`
 *   says whether events it had acknowledged are gone (a checkpoint past 0), as opposed to a
 *   stream that never held one.
 */
export type StreamVerdict = { kind: 'intact'; after: number } | { kind: 'remake'; lost: boolean };

/**
 * `checkpoint`: the position of the last event the stream acknowledged, as far as the relay
 * knows. `firstStored`: the position of the first stored event, null when none is. `ends`: the
 * stream's, null when there is no stream. `storedAtLast`: the id of the event stored at
 * `ends.last`, null when none is.
 */
export function judgeStream(checkpoint: number, firstStored: number | null, ends: StreamEnds | null, storedAtLast: string | null): StreamVerdict {
  const holdsAllItHad =
    ends !== null && ends.last >= checkpoint && (ends.last === 0 || (ends.first === firstStored && !ends.gaps && isStoredAtLast(ends, storedAtLast)));
  if (!holdsAllItHad) return { kind: 'remake', lost: checkpoint > 0 };
  return { kind: 'intact', after: ends.last };
}

/** The store holds an event at the stream's last position, and it is that message's, when the message names one. */
function isStoredAtLast(ends: StreamEnds, storedAtLast: string | null): boolean {
  return storedAtLast !== null && (ends.lastEventId === '' || ends.lastEventId === storedAtLast);
}
