import { z } from 'zod';
import { parse } from './parse.js';
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
