/** An event to append: plain data, with its id and time decided by the caller. */
export interface NewEvent {
  eventId: string;
  type: string;
  occurredAt: string;
  data: unknown;
}

/** An event as stored, with its place in its stream and in the global log. */
export interface StoredEvent extends NewEvent {
  streamId: string;
  streamVersion: number;
  globalPosition: number;
}

export class ConcurrencyConflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`stream ${streamId} is at version ${actualVersion}, expected ${expectedVersion}`);
    this.name = 'ConcurrencyConflict';
  }
}
