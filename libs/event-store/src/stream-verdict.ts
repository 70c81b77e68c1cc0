/**
 * What a look at the stream found: the global positions carried by its first message and by the
 * last one that carries a position (0 when it holds none, or when they do not say; messages the
 * relay did not publish carry none), and whether messages were removed
 * from inside it (a purge of one subject, a deleted message).
 */
export interface StreamEnds {
  first: number;
  last: number;
  gaps: boolean;
}

/**
 * What the relay makes of the stream:
 * - `intact`: the stream holds every event from the first stored one up to `after`; publish what
 *   comes after it. It may be ahead of the checkpoint (published, then the checkpoint's commit
 *   was lost).
 * - `remake`: the stream is missing, or has lost history: its last message is behind the
 *   checkpoint (it holds none, or stops short of events it acknowledged), or it no longer
 *   begins with the first stored event, or messages were removed from inside it. Make it anew and
 *   publish every stored event from the first. `lost` says whether events it had acknowledged
 *   are gone (a checkpoint past 0), as opposed to a stream that never held one.
 */
export type StreamVerdict = { kind: 'intact'; after: number } | { kind: 'remake'; lost: boolean };

/**
 * `checkpoint`: the position of the last event the stream acknowledged, as far as the relay
 * knows. `firstStored`: the position of the first stored event, null when none is. `ends`: the
 * stream's, null when there is no stream.
 */
export function judgeStream(checkpoint: number, firstStored: number | null, ends: StreamEnds | null): StreamVerdict {
  const holdsAllItHad = ends !== null && ends.last >= checkpoint && (ends.last === 0 || (ends.first === firstStored && !ends.gaps));
  if (!holdsAllItHad) return { kind: 'remake', lost: checkpoint > 0 };
  return { kind: 'intact', after: ends.last };
}
