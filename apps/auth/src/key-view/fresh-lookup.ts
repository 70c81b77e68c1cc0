import type { Logger } from '@keyplane/observability';
import { Counter, type Registry } from 'prom-client';
import type { AppliedSequence } from './applied-sequence.js';
import type { KeyLookup, KeyView } from './key-view.js';
import type { StreamHead, StreamPoint } from './stream-head.js';

export interface FreshLookupOptions {
  view: KeyView;
  applied: AppliedSequence;
  head: Pick<StreamHead<StreamPoint>, 'current'>;
  logger: Logger;
  registry: Registry;
  /** How long a miss waits for the view to catch up with the stream. */
  catchUpTimeoutMs?: number;
}

/**
 * Read-your-writes on the key view: the keys service replies only once its events are on
 * the stream, so before a hash is called unknown the view must have applied everything the
 * stream held when the request arrived, on that stream: one made anew (the keys service remade
 * it) numbers its messages from 1 again, and a view still on the old one is behind it whatever
 * its sequence. Hits are answered from memory at once.
 */
export class FreshLookup {
  private readonly catchUpTimeoutMs: number;
  private lastWarnedAt = 0;
  private readonly misses: Counter<'result'>;

  constructor(private readonly options: FreshLookupOptions) {
    this.catchUpTimeoutMs = options.catchUpTimeoutMs ?? 1000;
    this.misses = new Counter({
      name: 'auth_key_view_misses_total',
      help: 'Hashes not in the key view: "found" after catching up with the stream (read-your-writes), else "unknown"',
      labelNames: ['result'],
      registers: [options.registry],
    });
  }

  async lookup(secretHash: string, now: () => number): Promise<{ found: KeyLookup | null; at: number }> {
    const { view, applied, head } = this.options;
    const at = now();
    const found = view.lookup(secretHash, at);
    if (found) return { found, at };
    try {
      const { sequence, created } = await head.current();
      await applied.reached(sequence, this.catchUpTimeoutMs, created);
    } catch (error) {
      this.warn(error);
    }
    // Look again even when the view was level all along: it may have applied the key while we asked.
    const later = now();
    const caughtUp = view.lookup(secretHash, later);
    if (!caughtUp) return this.unknown(later);
    this.misses.inc({ result: 'found' });
    return { found: caughtUp, at: later };
  }

  private unknown(at: number): { found: null; at: number } {
    this.misses.inc({ result: 'unknown' });
    return { found: null, at };
  }

  /** A JetStream outage would otherwise log once per unknown key. */
  private warn(error: unknown): void {
    const at = Date.now();
    if (at - this.lastWarnedAt < 5000) return;
    this.lastWarnedAt = at;
    this.options.logger.warn({ err: error }, 'could not read the key stream head; answering misses from the view as it is');
  }
}
