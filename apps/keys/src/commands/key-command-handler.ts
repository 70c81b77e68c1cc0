import type { Kysely } from 'kysely';
import { conflict, KeyEvent, serviceError, type Recheck, type ServiceError } from '@keyplane/contracts';
import { ConcurrencyConflict, readStream, type OutboxRelay } from '@keyplane/event-store';
import { orAfter } from '@keyplane/runtime';
import { asEventStore } from '../db/as-event-store.js';
import type { Database } from '../db/schema.js';
import { newEventId } from '../ids.js';
import { actingAs } from '../key/acting-key.js';
import { decide, SYSTEM, type CommandMetadata, type KeyCommand } from '../key/commands.js';
import { evolve } from '../key/evolve.js';
import { initialState, type IssuedKeyState } from '../key/state.js';
import { keyStreamId } from '../key/stream-id.js';
import type { Clock } from '../tokens.js';
import { loadStoredActor } from '../read-model/stored-actor.js';
import { PastDeadline, SecretInUse, storeKeyEvents, type ActorVersion } from './store-key-events.js';

export type CommandOutcome =
  | { ok: true; state: IssuedKeyState; events: KeyEvent[]; now: string }
  | { ok: false; error: ServiceError };

export interface KeyCommandHandlerOptions {
  db: Kysely<Database>;
  relay: OutboxRelay;
  clock: Clock;
  /** How long a reply may wait for its events to reach the stream. */
  publishTimeoutMs: number;
}

const MAX_ATTEMPTS = 5;
const NOT_MADE_IN_TIME = serviceError(503, 'Keys service could not make the change in time: nothing was changed');
// Enough ids for the command that emits the most events: an update changing name, permissions and limits.
const EVENT_IDS_PER_COMMAND = 3;

/**
 * Runs one command on one key: load the stream, decide, append with the version it decided
 * on. Losing a race to another writer means deciding again on the newer state, so
 * concurrent commands on a key serialize instead of overwriting each other.
 * The calling key is judged as this service stores it (see actingAs), against what auth
 * decided on (`recheck`) when the gateway sent it, and a change to it before the commit makes
 * the command decide again, like a change to the key itself.
 * The outcome is returned only once its events are on the key event stream.
 *
 * With a `deadline` (a `performance.now()` value: see reply-deadline.ts) nothing is committed
 * after it: a command held up past its caller's wait, by a slow or stalled Postgres, is rolled
 * back instead of carried out unseen, and the wait for the stream ends with it.
 */
export class KeyCommandHandler {
  constructor(private readonly options: KeyCommandHandlerOptions) {}

  async execute(
    keyId: string,
    commandFor: (metadata: CommandMetadata) => KeyCommand,
    deadline: number | null = null,
    recheck?: Recheck,
  ): Promise<CommandOutcome> {
    const { db, clock } = this.options;
    const inTime = () => deadline === null || performance.now() < deadline;
    for (let attempt = 1; ; attempt++) {
      const history = await readStream(asEventStore(db), keyStreamId(keyId));
      const state = history.map((stored) => KeyEvent.parse(stored.data)).reduce(evolve, initialState());
      const now = clock().toISOString();
      const asked = await this.asCurrentActor(commandFor({ now, eventIds: Array.from({ length: EVENT_IDS_PER_COMMAND }, newEventId) }), recheck, now);
      if (!asked.ok) return asked;
      const decision = decide(asked.command, state);
      if (!decision.ok) return decision;

      const next = decision.events.reduce(evolve, state);
      if (next.status === 'absent') throw new Error(`command on ${keyId} was accepted but left no key`);
      const version = history.at(-1)?.streamVersion ?? 0;
      if (decision.events.length === 0) {
        // Nothing new, but an earlier change may still be on its way to the stream.
        return this.oncePublished(history.at(-1)?.globalPosition ?? 0, { ok: true, state: next, events: [], now }, deadline);
      }
      if (!inTime()) return { ok: false, error: NOT_MADE_IN_TIME };
      try {
        const stored = await storeKeyEvents(db, version, decision.events, next, inTime, asked.actor);
        return this.oncePublished(stored.at(-1)!.globalPosition, { ok: true, state: next, events: decision.events, now }, deadline);
      } catch (error) {
        if (error instanceof PastDeadline) return { ok: false, error: NOT_MADE_IN_TIME };
        if (error instanceof SecretInUse) return { ok: false, error: conflict('secret: already in use by an API key') };
        if (!(error instanceof ConcurrencyConflict)) throw error;
        if (attempt === MAX_ATTEMPTS) return { ok: false, error: conflict(`API key ${keyId} is being changed concurrently; retry`) };
      }
    }
  }

  /** The command as the calling key stands now, with the version to hold it to. */
  private async asCurrentActor(
    command: KeyCommand,
    recheck: Recheck | undefined,
    now: string,
  ): Promise<{ ok: true; command: KeyCommand; actor: ActorVersion | null } | { ok: false; error: ServiceError }> {
    const claimed = command.data.actor;
    if (claimed === SYSTEM) return { ok: true, command, actor: null };
    const acting = actingAs(claimed, recheck, await loadStoredActor(this.options.db, claimed.keyId), now);
    if (!acting.ok) return acting;
    const actor = acting.version === null ? null : { keyId: claimed.keyId, version: acting.version };
    return { ok: true, command: { ...command, data: { ...command.data, actor: acting.actor } } as KeyCommand, actor };
  }

  private async oncePublished(position: number, outcome: CommandOutcome, deadline: number | null): Promise<CommandOutcome> {
    const { relay, publishTimeoutMs } = this.options;
    relay.wake();
    const waitMs = deadline === null ? publishTimeoutMs : Math.max(0, Math.min(publishTimeoutMs, deadline - performance.now()));
    const published = await orAfter(relay.whenPublished(position).then(() => true), waitMs, false);
    if (published) return outcome;
    return { ok: false, error: serviceError(503, 'Key event stream unavailable: the change is stored and takes effect once published') };
  }
}
