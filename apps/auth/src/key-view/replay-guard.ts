/**
 * Tells events new to the view from ones it already folded. The keys service's relay publishes
 * events in the order of their global position, which each message carries in a header, and
 * publishes every one again onto a stream it made anew after the stream lost history. A replica
 * that follows the new stream from its first message already holds most of them, and folding one
 * again would bring an older state back until the later events came again: a rotated-out secret
 * current, a permission taken away granted. A message without a position (not the relay's) is new.
 */
export class ReplayGuard {
  private last = 0;

  /** Whether to apply a message carrying this position header ('' or undefined when it has none). */
  isNew(header: string | undefined): boolean {
    const position = Number(header);
    if (!header || !Number.isSafeInteger(position) || position <= 0) return true;
    if (position <= this.last) return false;
    this.last = position;
    return true;
  }
}
