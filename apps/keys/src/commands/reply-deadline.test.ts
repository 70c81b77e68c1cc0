import { headers } from '@nats-io/transport-node';
import { REPLY_WITHIN_HEADER } from '@keyplane/contracts';
import { REPLY_MARGIN_MS, replyDeadline } from './reply-deadline.js';

const withHeader = (value: string) => {
  const h = headers();
  h.set(REPLY_WITHIN_HEADER, value);
  return h;
};

describe('replyDeadline', () => {
  it('is the time of receipt plus the caller\'s wait, less the margin for the reply', () => {
    expect(replyDeadline(withHeader('5000'), 1000)).toEqual({ ok: true, at: 1000 + 5000 - REPLY_MARGIN_MS });
  });

  it('is none without the header, or without headers at all', () => {
    expect(replyDeadline(undefined, 1000)).toEqual({ ok: true, at: null });
    expect(replyDeadline(headers(), 1000)).toEqual({ ok: true, at: null });
  });

  it.each(['0', '-5', '1.5', '5s', '0x10', '1e3', '1000000000'])('refuses %j with a 400 naming the header', (value) => {
    expect(replyDeadline(withHeader(value), 1000)).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'Keyplane-Reply-Within-Ms header: must be a whole number of milliseconds from 1 to 999999999' },
    });
  });
});
