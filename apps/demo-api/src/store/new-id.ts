import { ulid } from 'ulid';

/** Stripe-style ids: a type prefix, then a ULID so ids sort by creation time. */
export const newId = (prefix: string): string => `${prefix}_${ulid()}`;
