/**
 * When a view folded again from a stream's first message may take over from the one answering:
 * once it holds every event the keys store held when it made the stream, which the stream's first
 * message says (Keyplane-Stored-Through; a first message without it, from an older keys, asks for
 * nothing more). Level with the stream is not enough: keys may still be publishing those events
 * again, and a view taken then would not know keys the store has.
 */
export class RebuildGate {
  /** The position to fold through; undefined until the first message came. */
  private needed: number | undefined;
  private folded = 0;
  private open!: () => void;
  /** Resolves once the view holds every event the store held when the stream was made. */
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));

  /** A message folded (or skipped) into the view, with its position and stored-through headers. */
  see(positionHeader: string | undefined, storedThroughHeader: string | undefined): void {
    if (this.needed === undefined) {
      const through = Number(storedThroughHeader);
      this.needed = storedThroughHeader && Number.isSafeInteger(through) && through > 0 ? through : 0;
    }
    const position = Number(positionHeader);
    if (Number.isSafeInteger(position) && position > this.folded) this.folded = position;
    if (this.folded >= this.needed) this.open();
  }
}
