import type { Actor, KeyEvent, SecretFingerprint, ServiceError } from '@keyplane/contracts';
import { deciderSpecification } from '../../test/support/decider-specification.js';
import { SYSTEM, type CommandActor, type CommandMetadata, type KeyCommand } from './commands.js';
import { keyDecider } from './decider.js';

const given = deciderSpecification(keyDecider);

const NOW = '2026-11-26T10:00:00.000Z';
const KEY = 'key_01JDQ7Z5Y8K3M4N5P6Q7R8S9T0';
const ADMIN = 'key_01JDQ7Z5Y8K3M4N5P6Q7R8S9AA';
const metadata: CommandMetadata = { now: NOW, eventIds: ['evt_1', 'evt_2', 'evt_3'] };

const actor = (permissions: string[], overrides: Partial<Actor> = {}): Actor => ({
  keyId: ADMIN,
  accountId: 'acc_acme',
  environment: 'live',
  permissions,
  ...overrides,
});
const admin = actor(['*']);
const stranger = actor(['*'], { accountId: 'acc_other' });

const secret = (n: number, environment = 'live'): SecretFingerprint => ({
  secretHash: String(n).repeat(64).slice(0, 64),
  displayPrefix: `tv_${environment}_Ab3x`,
  last4: `${n}ZqT`.slice(0, 4),
});

const envelope = (eventId = 'evt_1', occurredAt = NOW, by: string = ADMIN) => ({
  version: 1 as const,
  eventId,
  keyId: KEY,
  accountId: 'acc_acme',
  occurredAt,
  actor: by,
});

const EARLIER = '2026-11-25T09:00:00.000Z';

const issued = (overrides: Partial<Extract<KeyEvent, { type: 'KeyIssued' }>['data']> = {}): KeyEvent => ({
  type: 'KeyIssued',
  ...envelope('evt_0', EARLIER),
  data: {
    name: 'CI deploy',
    environment: 'live',
    permissions: ['FLOWS:READ'],
    rateLimits: { hour: 1000, day: 10000 },
    expiresAt: null,
    secret: secret(1),
    ...overrides,
  },
});
const revoked = (): KeyEvent => ({ type: 'KeyRevoked', ...envelope('evt_r', EARLIER), data: { reason: null } });

const issue = (data: Partial<Extract<KeyCommand, { type: 'IssueKey' }>['data']> = {}): KeyCommand => ({
  type: 'IssueKey',
  data: {
    keyId: KEY,
    accountId: 'acc_acme',
    actor: admin,
    name: 'CI deploy',
    environment: 'live',
    permissions: ['FLOWS:READ'],
    secret: secret(1),
    ...data,
  },
  metadata,
});
const rotate = (by: CommandActor = admin, gracePeriodSeconds = 0, newSecret = secret(2)): KeyCommand => ({
  type: 'RotateKey',
  data: { keyId: KEY, actor: by, gracePeriodSeconds, secret: newSecret },
  metadata,
});
const revoke = (by: CommandActor = admin, reason?: string | null): KeyCommand => ({ type: 'RevokeKey', data: { keyId: KEY, actor: by, reason }, metadata });
const update = (data: Omit<Extract<KeyCommand, { type: 'UpdateKey' }>['data'], 'keyId' | 'actor'>, by: CommandActor = admin): KeyCommand => ({
  type: 'UpdateKey',
  data: { keyId: KEY, actor: by, ...data },
  metadata,
});

describe('issuing a key', () => {
  it('issues it with the default rate limits and no expiry', () => {
    given()
      .when(issue())
      .then({
        type: 'KeyIssued',
        ...envelope(),
        data: {
          name: 'CI deploy',
          environment: 'live',
          permissions: ['FLOWS:READ'],
          rateLimits: { hour: 1000, day: 10000 },
          expiresAt: null,
          secret: secret(1),
        },
      });
  });

  it('merges partial rate limits over the defaults and stores the expiry in UTC', () => {
    given()
      .when(issue({ rateLimits: { hour: 50 }, expiresAt: '2026-12-01T12:00:00+02:00' }))
      .then({
        type: 'KeyIssued',
        ...envelope(),
        data: {
          name: 'CI deploy',
          environment: 'live',
          permissions: ['FLOWS:READ'],
          rateLimits: { hour: 50, day: 10000 },
          expiresAt: '2026-12-01T10:00:00.000Z',
          secret: secret(1),
        },
      });
  });

  it('lets the service itself issue the bootstrap admin key without a grant check', () => {
    given()
      .when(issue({ actor: SYSTEM, accountId: 'acc_root', name: 'bootstrap admin', permissions: ['*'] }))
      .then({
        type: 'KeyIssued',
        ...envelope(),
        accountId: 'acc_root',
        actor: 'system',
        data: {
          name: 'bootstrap admin',
          environment: 'live',
          permissions: ['*'],
          rateLimits: { hour: 1000, day: 10000 },
          expiresAt: null,
          secret: secret(1),
        },
      });
  });

  it('refuses an id that already exists', () => {
    given(issued()).when(issue()).thenFails({ status: 409, error: 'Conflict', details: `API key ${KEY} already exists` });
  });

  it('refuses an expiry that is not in the future', () => {
    const error: ServiceError = { status: 400, error: 'Bad Request', details: 'expiresAt: must be in the future' };
    given().when(issue({ expiresAt: NOW })).thenFails(error);
    given().when(issue({ expiresAt: '2020-01-01T00:00:00Z' })).thenFails(error);
  });

  it('refuses unknown permissions, naming the entry', () => {
    given()
      .when(issue({ permissions: ['FLOWS:READ', 'FLOW:READ'] }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'permissions[1]: unknown permission "FLOW:READ"' });
  });

  it('refuses a key without permissions', () => {
    given()
      .when(issue({ permissions: [] }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'permissions: must grant at least one permission' });
  });

  it('does not let a test key create a live key', () => {
    given()
      .when(issue({ actor: actor(['FLOWS:READ'], { environment: 'test' }) }))
      .thenFails({ status: 403, error: 'Forbidden', details: 'A test key cannot manage live keys' });
  });

  it('never gives a test key *, KEYS: or AUDIT: permissions', () => {
    given()
      .when(issue({ environment: 'test', permissions: ['*'], secret: secret(1, 'test') }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'permissions[0]: test keys cannot be granted "*"' });
    given()
      .when(issue({ environment: 'test', permissions: ['FLOWS:READ', 'AUDIT:READ'], secret: secret(1, 'test') }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'permissions[1]: test keys cannot be granted "AUDIT:READ"' });
  });

  it('does not let a caller grant what it does not hold', () => {
    given()
      .when(issue({ actor: actor(['KEYS:WRITE', 'FLOWS:READ']), permissions: ['FLOWS:READ', 'FLOWS:WRITE'] }))
      .thenFails({ status: 403, error: 'Forbidden', details: 'permissions[1]: cannot grant "FLOWS:WRITE" without holding it' });
  });

  it('does not issue into another account', () => {
    given()
      .when(issue({ actor: stranger }))
      .thenFails({ status: 403, error: 'Forbidden', details: 'API keys can only be issued in the caller’s own account' });
  });

  it('refuses a secret made for the other environment', () => {
    given()
      .when(issue({ secret: secret(1, 'test') }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'secret.displayPrefix: is not a live key' });
  });

  it('reads the environment as far as a long KEY_PREFIX leaves it in the display prefix', () => {
    const shown = (displayPrefix: string): SecretFingerprint => ({ ...secret(1), displayPrefix });
    given().when(issue({ secret: shown('keyplane_liv') })).then(expect.objectContaining({ type: 'KeyIssued' }));
    given().when(issue({ secret: shown('abcdefghijkl') })).then(expect.objectContaining({ type: 'KeyIssued' }));
    given()
      .when(issue({ secret: shown('keyplane_tes') }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'secret.displayPrefix: is not a live key' });
  });
});

describe('rotating a key', () => {
  it('replaces the secret and keeps the old one valid for the grace period', () => {
    given(issued())
      .when(rotate(admin, 3600))
      .then({
        type: 'KeySecretRotated',
        ...envelope(),
        data: { secret: secret(2), previousSecretHash: secret(1).secretHash, previousKeyExpiresAt: '2026-11-26T11:00:00.000Z' },
      });
  });

  it('without a grace period the old secret stops at once', () => {
    given(issued())
      .when(rotate())
      .then({ type: 'KeySecretRotated', ...envelope(), data: { secret: secret(2), previousSecretHash: secret(1).secretHash, previousKeyExpiresAt: NOW } });
  });

  it('ends the old secret’s grace period no later than the key itself expires', () => {
    given(issued({ expiresAt: '2026-11-26T10:30:00.000Z' }))
      .when(rotate(admin, 3600))
      .then({
        type: 'KeySecretRotated',
        ...envelope(),
        data: { secret: secret(2), previousSecretHash: secret(1).secretHash, previousKeyExpiresAt: '2026-11-26T10:30:00.000Z' },
      });
  });

  it('answers 404 for a missing key and for another account’s key alike', () => {
    const error: ServiceError = { status: 404, error: 'Not Found', details: `API key ${KEY} not found` };
    given().when(rotate()).thenFails(error);
    given(issued()).when(rotate(stranger)).thenFails(error);
  });

  it('refuses a revoked key', () => {
    given(issued(), revoked()).when(rotate()).thenFails({ status: 409, error: 'Conflict', details: `API key ${KEY} is revoked` });
  });

  it('refuses an expired key, whose new secret would not work', () => {
    given(issued({ expiresAt: '2026-11-26T09:00:00.000Z' }))
      .when(rotate())
      .thenFails({ status: 409, error: 'Conflict', details: `API key ${KEY} has expired` });
  });

  it('does not hand a key’s secret to a caller that could not grant its permissions', () => {
    given(issued({ permissions: ['FLOWS:READ', 'KEYS:WRITE'] }))
      .when(rotate(actor(['KEYS:WRITE'])))
      .thenFails({ status: 403, error: 'Forbidden', details: 'permissions[0]: cannot grant "FLOWS:READ" without holding it' });
  });

  it('does not let a test key rotate a live key', () => {
    given(issued())
      .when(rotate(actor(['FLOWS:READ'], { environment: 'test' })))
      .thenFails({ status: 403, error: 'Forbidden', details: 'A test key cannot manage live keys' });
  });
});

describe('revoking a key', () => {
  it('revokes it with the reason given', () => {
    given(issued()).when(revoke(admin, 'leaked in CI logs')).then({ type: 'KeyRevoked', ...envelope(), data: { reason: 'leaked in CI logs' } });
  });

  it('stores a missing reason as null', () => {
    given(issued()).when(revoke()).then({ type: 'KeyRevoked', ...envelope(), data: { reason: null } });
  });

  it('revoking twice changes nothing', () => {
    given(issued(), revoked()).when(revoke()).thenNothingHappened();
  });

  it('revokes an expired key too', () => {
    given(issued({ expiresAt: '2026-11-26T09:00:00.000Z' })).when(revoke()).then({ type: 'KeyRevoked', ...envelope(), data: { reason: null } });
  });

  it('answers 404 for another account’s key, even a revoked one', () => {
    given(issued(), revoked()).when(revoke(stranger)).thenFails({ status: 404, error: 'Not Found', details: `API key ${KEY} not found` });
  });

  it('does not let a test key revoke a live key', () => {
    given(issued())
      .when(revoke(actor(['FLOWS:READ'], { environment: 'test' })))
      .thenFails({ status: 403, error: 'Forbidden', details: 'A test key cannot manage live keys' });
  });
});

describe('updating a key', () => {
  it('emits one event per field that changes, in a fixed order', () => {
    given(issued())
      .when(update({ name: 'nightly', permissions: ['FLOWS:*'], rateLimits: { day: 20000 } }))
      .then(
        { type: 'KeyRenamed', ...envelope('evt_1'), data: { name: 'nightly' } },
        { type: 'KeyPermissionsChanged', ...envelope('evt_2'), data: { permissions: ['FLOWS:*'] } },
        { type: 'KeyRateLimitsChanged', ...envelope('evt_3'), data: { rateLimits: { hour: 1000, day: 20000 } } },
      );
  });

  it('emits nothing for values that are already there', () => {
    given(issued()).when(update({ name: 'CI deploy', permissions: ['FLOWS:READ'], rateLimits: { hour: 1000 } })).thenNothingHappened();
    given(issued()).when(update({})).thenNothingHappened();
  });

  it('merges partial rate limits over the key’s current ones', () => {
    given(issued({ rateLimits: { hour: 5, day: 50 } }))
      .when(update({ rateLimits: { hour: 10 } }))
      .then({ type: 'KeyRateLimitsChanged', ...envelope(), data: { rateLimits: { hour: 10, day: 50 } } });
  });

  it('applies the grant rule to new permissions', () => {
    given(issued())
      .when(update({ permissions: ['FLOWS:READ', 'RECORDS:WRITE'] }, actor(['KEYS:WRITE', 'FLOWS:*'])))
      .thenFails({ status: 403, error: 'Forbidden', details: 'permissions[1]: cannot grant "RECORDS:WRITE" without holding it' });
    given(issued({ environment: 'test', secret: secret(1, 'test') }))
      .when(update({ permissions: ['KEYS:READ'] }))
      .thenFails({ status: 400, error: 'Bad Request', details: 'permissions[0]: test keys cannot be granted "KEYS:READ"' });
  });

  it('grants nothing when the permissions sent are the key’s own: a caller that could not grant them may still rename', () => {
    const operator = actor(['KEYS:WRITE']);
    given(issued()).when(update({ name: 'nightly', permissions: ['FLOWS:READ'] }, operator)).then({ type: 'KeyRenamed', ...envelope(), data: { name: 'nightly' } });
    given(issued({ permissions: ['FLOWS:READ', 'RECORDS:READ'] }))
      .when(update({ permissions: ['RECORDS:READ', 'FLOWS:READ'] }, operator))
      .thenFails({ status: 403, error: 'Forbidden', details: 'permissions[0]: cannot grant "RECORDS:READ" without holding it' });
  });

  it('does not let a test key rename a live key', () => {
    given(issued())
      .when(update({ name: 'mine now' }, actor(['FLOWS:READ'], { environment: 'test' })))
      .thenFails({ status: 403, error: 'Forbidden', details: 'A test key cannot manage live keys' });
  });

  it('refuses a revoked key and hides another account’s key', () => {
    given(issued(), revoked()).when(update({ name: 'x' })).thenFails({ status: 409, error: 'Conflict', details: `API key ${KEY} is revoked` });
    given(issued()).when(update({ name: 'x' }, stranger)).thenFails({ status: 404, error: 'Not Found', details: `API key ${KEY} not found` });
  });
});
