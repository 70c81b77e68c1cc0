/**
 * What a message is to the view: an event to fold, one it already folded, or proof that the stream
 * is another history: another event at a position the view folded (`diverged`), or a store that
 * no longer holds events the view folded (`lost`).
 */
export type Replay = 'new' | 'applied' | 'diverged' | 'lost';

const CHUNK = 65_536;

/**
 * A 32-bit digest of the event id folded at each position, in chunks of positions made as they are
 * used: 4 bytes a position (about 2 MB for 500,000 events), and a stray huge position costs one chunk.
 */
class FoldedIds {
  private readonly chunks = new Map<number, Uint32Array>();

  get(position: number): number {
    return this.chunks.get(Math.floor(position / CHUNK))?.[position % CHUNK] ?? 0;
  }

  set(position: number, digest: number): void {
    const index = Math.floor(position / CHUNK);
    let chunk = this.chunks.get(index);
    if (!chunk) this.chunks.set(index, (chunk = new Uint32Array(CHUNK)));
    chunk[position % CHUNK] = digest;
  }
}

/** FNV-1a of the event id; never 0, which stands for a position never folded. */
function digest(eventId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < eventId.length; i++) hash = Math.imul(hash ^ eventId.charCodeAt(i), 0x01000193);
  return hash >>> 0 || 1;
}

/**
 * Tells events new to the view from ones it already folded. The keys service's relay publishes
 * events in the order of their global position, which each message carries in a header, and
 * publishes every one again onto a stream it made anew after the stream lost history. A replica
 * that follows the new stream from its first message already holds most of them, and folding one
 * again would bring an older state back until the later events came again: a rotated-out secret
 * current, a permission taken away granted. A message without a position (not the relay's) is new.
 *
 * On a stream made anew, a position already folded must also carry the event folded there (when
 * the message names one). When
 * it does not, the keys store went back to an earlier point (a restore, a failover that lost the
 * last commits) and gave the position to another event: the view holds events the store no longer
 * has, and skipping by position would also pass over the new ones.
 */
export class ReplayGuard {
  private last = 0;
  private verifying = false;
  private readonly folded = new FoldedIds();

  /** From now on a message at a position already folded must carry the event folded there: the stream was made anew. */
  verifyReplays(): void {
    this.verifying = true;
  }

  /**
   * What to do with a message carrying this position header ('' or undefined when it has none),
   * event id (Nats-Msg-Id) and, on the first message of a stream the keys relay made anew, the
   * position of the last event the store held then (Keyplane-Stored-Through). A view that folded
   * an event past that holds one the store lost: it went back to an earlier point, and the stream
   * may never reuse the lost positions to tell.
   */
  replay(header: string | undefined, eventId: string | undefined, storedThrough?: string): Replay {
    const through = Number(storedThrough);
    if (storedThrough && Number.isSafeInteger(through) && through >= 0 && this.last > through) return 'lost';
    const position = Number(header);
    if (!header || !Number.isSafeInteger(position) || position <= 0) return 'new';
    if (position > this.last) {
      this.last = position;
      this.folded.set(position, digest(eventId ?? ''));
      return 'new';
    }
    // A message that names no event (not the relay's) says nothing of what the position holds.
    if (!this.verifying || !eventId || this.folded.get(position) === digest(eventId)) return 'applied';
    return 'diverged';
  }
}
