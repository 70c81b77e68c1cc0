import { AlertsRequest, LastUsedRequest, UsageEventsRequest, UsageWindowsRequest } from '../metering/metering-queries.js';
import { AuditEventsRequest, GetKeyRequest, IssueKeyRequest, ListKeysRequest, RevokeKeyRequest, RotateKeyRequest, UpdateKeyRequest } from '../keys/key-messages.js';
import { parse } from './parse.js';

const actor = { keyId: 'key_01JABCDEFGHJKMNPQRSTVWXYZ0', accountId: 'acc_root', environment: 'live', permissions: ['*'] };
const accountId = 'acc_root';
const keyId = 'key_01JABCDEFGHJKMNPQRSTVWXY00';
const secret = { secretHash: 'a'.repeat(64), displayPrefix: 'tv_live_abcd', last4: 'wxyz' };

// Every keys command and query and every metering query, as a sender without a request id (an older gateway) writes it.
const messages = {
  issue: [IssueKeyRequest, { actor, name: 'ci', environment: 'live', permissions: ['FLOWS:READ'], secret }],
  rotate: [RotateKeyRequest, { actor, keyId, gracePeriodSeconds: 0, secret }],
  revoke: [RevokeKeyRequest, { actor, keyId, reason: null }],
  update: [UpdateKeyRequest, { actor, keyId, name: 'renamed' }],
  get: [GetKeyRequest, { actor, keyId }],
  list: [ListKeysRequest, { actor, limit: 100 }],
  audit: [AuditEventsRequest, { actor, limit: 100 }],
  usage: [UsageWindowsRequest, { accountId, keyId, granularity: 'hour', from: '2026-11-27T00:00:00.000Z', to: '2026-11-27T10:00:00.000Z' }],
  events: [UsageEventsRequest, { accountId, keyId, limit: 100 }],
  alerts: [AlertsRequest, { accountId, limit: 100 }],
  lastUsed: [LastUsedRequest, { accountId, keyIds: [keyId] }],
} as const;

describe.each(Object.entries(messages))('%s: requestId', (_name, [schema, message]) => {
  it('is optional: a message without it is valid as it was', () => {
    expect(parse(schema, message)).toEqual({ ok: true, value: message });
  });

  it('is carried through when present', () => {
    const traced = { ...message, requestId: 'req_6f1c0c52-8a57-4a5e-9c2b-0c1b0f3c2d11' };
    expect(parse(schema, traced)).toEqual({ ok: true, value: traced });
  });

  it('is bounded: 128 characters pass, 129 are a 400 naming requestId', () => {
    expect(parse(schema, { ...message, requestId: 'r'.repeat(128) }).ok).toBe(true);
    expect(parse(schema, { ...message, requestId: 'r'.repeat(129) })).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'requestId: must be at most 128 characters' },
    });
  });

  it('is storable text, and not empty', () => {
    for (const requestId of ['req\u0000x', 'req\uD800', 'req\uDC00', '', 42, null]) {
      const parsed = parse(schema, { ...message, requestId });
      expect({ requestId, field: parsed.ok ? null : parsed.error.details.split(':')[0] }).toEqual({ requestId, field: 'requestId' });
    }
  });
});
