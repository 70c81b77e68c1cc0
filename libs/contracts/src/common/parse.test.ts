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

  it('sends once more without every listed field the receiver named, keeping the listed ones it knows', async () => {
    const receiver = (knows: string[]) => {
      const sent: object[] = [];
      const answer = async (message: object) => {
        sent.push(message);
        const unknown = Object.keys(message).filter((field) => field !== 'keyId' && !knows.includes(field));
        if (unknown.length === 0) return { ok: true, value: 'done' } as const;
        const details = unknown.length === 1 ? `Unrecognized key: "${unknown[0]}"` : `Unrecognized keys: ${unknown.map((field) => `"${field}"`).join(', ')}`;
        return { ok: false, error: { status: 400, error: 'Bad Request', details } } as const;
      };
      return { sent, answer };
    };
    const message = { keyId: 'k', requestId: 'req_1', recheck: { keyHash: 'a'.repeat(64), permission: null } };
    const neither = receiver([]);
    expect(await sendDroppingUnknown(message, ['requestId', 'recheck'], neither.answer)).toEqual({ ok: true, value: 'done' });
    expect(neither.sent).toEqual([message, { keyId: 'k' }]);
    const knowsRequestId = receiver(['requestId']);
    expect(await sendDroppingUnknown(message, ['requestId', 'recheck'], knowsRequestId.answer)).toEqual({ ok: true, value: 'done' });
    expect(knowsRequestId.sent).toEqual([message, { keyId: 'k', requestId: 'req_1' }]);
  });

  it('passes on a refusal that names a field it may not drop, with one send', async () => {
    let sends = 0;
    const refusal = { ok: false, error: { status: 400, error: 'Bad Request', details: 'Unrecognized keys: "requestId", "other"' } } as const;
    expect(await sendDroppingUnknown({ requestId: 'req_1', other: 1 }, ['requestId'], async () => (sends++, refusal))).toEqual(refusal);
    expect(sends).toBe(1);
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
