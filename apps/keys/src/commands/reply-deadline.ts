import type { MsgHdrs } from '@nats-io/transport-node';
import { badRequest, REPLY_WITHIN_HEADER, type ServiceError } from '@keyplane/contracts';

/** Kept back from the caller's wait for the reply's way back to it, through NATS and a busy event loop. */
export const REPLY_MARGIN_MS = 250;

export type ReplyDeadline = { ok: true; at: number | null } | { ok: false; error: ServiceError };

const MILLISECONDS = /^[1-9]\d{0,8}$/;

/**
 * The `performance.now()` by which a command received at `receivedAt` must have committed and
 * replied, from its `REPLY_WITHIN_HEADER`; `at: null` when it has none (no caller is waiting
 * against a clock). A monotonic clock, so a wall-clock step cannot stretch or cut it.
 */
export function replyDeadline(headers: MsgHdrs | undefined, receivedAt: number): ReplyDeadline {
  const value = headers?.get(REPLY_WITHIN_HEADER);
  if (value === undefined || value === '') return { ok: true, at: null };
  if (!MILLISECONDS.test(value)) return { ok: false, error: badRequest(`${REPLY_WITHIN_HEADER} header: must be a whole number of milliseconds from 1 to 999999999`) };
  return { ok: true, at: receivedAt + Number(value) - REPLY_MARGIN_MS };
}
