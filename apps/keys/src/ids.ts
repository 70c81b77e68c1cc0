import { ulid } from 'ulid';

// ULIDs sort by creation time, which keeps ids readable in logs and streams in order.
export const newKeyId = (): string => `key_${ulid()}`;
export const newEventId = (): string => `evt_${ulid()}`;
