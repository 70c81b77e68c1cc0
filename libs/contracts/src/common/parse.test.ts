import { z } from 'zod';
import { parse, sendDroppingUnknown } from './parse.js';
import { IssueKeyRequest } from '../keys/key-messages.js';
import { DecideRequest } from '../auth/decide.js';

const actor = { keyId: 'key_01JABCDEFGHJKMNPQRSTVWXYZ0', accountId: 'acc_root', environment: 'live', permissions: ['*'] };
const secret = { secretHash: 'a'.repeat(64), displayPrefix: 'tv_live_abcd', last4: 'wxyz' };

describe('parse', () => {
  it('names the field of the first problem, array indexes included', () => {
    const result = parse(z.object({ permissions: z.array(z.string()) }), { permissions: ['A', 3] });
    expect(result).toEqual({ ok: false, error: { status: 400, error: 'Bad Request', details: 'permissions[1]: Invalid input: expected string, received number' } });
  });

  it('names nested fields with dots', () => {
    const result = parse(IssueKeyRequest, { actor, name: 'ci', environment: 'live', permissions: [], secret, rateLimits: { hour: -1 } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.details).toMatch(/^rateLimits\.hour: /);
  });

  it('rejects unknown fields in strict messages', () => {
    const result = parse(IssueKeyRequest, { actor, name: 'ci', environment: 'live', permissions: [], secret, key: 'tv_live_x' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.details).toContain('key');
  });

  it('passes a valid message through with its defaults', () => {
    const request = { keyHash: 'b'.repeat(64), permission: null, method: 'GET', path: '/v1/x', clientIp: '127.0.0.1', userAgent: null, requestId: 'r1' };
    expect(parse(DecideRequest, request)).toEqual({ ok: true, value: request });
  });

  it('never throws on input that is not an object', () => {
    for (const input of [undefined, null, 42, 'text', [], () => 1]) {
      expect(parse(DecideRequest, input).ok).toBe(false);
    }
  });
});

describe('sendDroppingUnknown', () => {
  const refused = { ok: false, error: { status: 400, error: 'Bad Request', details: 'Unrecognized key: "requestId"' } } as const;

  it('sends once more without the field only when the receiver refused it for not knowing that field', async () => {
    const sent: object[] = [];
    const olderReceiver = async (message: object) => {
      sent.push(message);
      return 'requestId' in message ? refused : ({ ok: true, value: 'done' } as const);
    };
    expect(await sendDroppingUnknown({ keyId: 'k', requestId: 'req_1' }, 'requestId', olderReceiver)).toEqual({ ok: true, value: 'done' });
    expect(sent).toEqual([{ keyId: 'k', requestId: 'req_1' }, { keyId: 'k' }]);
  });

  it('passes any other answer on as it came, with one send', async () => {
    for (const answer of [
      { ok: false, error: { status: 400, error: 'Bad Request', details: 'Unrecognized key: "other"' } },
      { ok: false, error: { status: 503, error: 'Service Unavailable', details: 'Unrecognized key: "requestId"' } },
      { ok: true, value: 'done' },
    ] as const) {
      let sends = 0;
      expect(await sendDroppingUnknown({ requestId: 'req_1' }, 'requestId', async () => (sends++, answer))).toEqual(answer);
      expect(sends).toBe(1);
    }
  });
});
