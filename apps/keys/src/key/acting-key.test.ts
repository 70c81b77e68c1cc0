import type { Actor, Recheck } from '@keyplane/contracts';
import { actingAs, type StoredActor } from './acting-key.js';

const NOW = '2026-11-26T10:00:00.000Z';
const LATER = '2026-11-26T10:05:00.000Z';
const CURRENT = 'c'.repeat(64);
const PREVIOUS = 'b'.repeat(64);
const OTHER = 'a'.repeat(64);

const claimed: Actor = { keyId: 'key_01JDQ7Z5Y8K3M4N5P6Q7R8S9AA', accountId: 'acc_acme', environment: 'live', permissions: ['KEYS:*', 'FLOWS:*'] };

const stored = (overrides: Partial<StoredActor> = {}): StoredActor => ({
  accountId: 'acc_acme',
  environment: 'live',
  permissions: ['KEYS:WRITE', 'FLOWS:READ'],
  status: 'active',
  expiresAt: null,
  version: 3,
  secretHash: CURRENT,
  previousSecretHash: null,
  previousKeyExpiresAt: null,
  ...overrides,
});

const recheck = (keyHash: string, permission: string | null = 'KEYS:WRITE'): Recheck => ({ keyHash, permission });
const rotatedWithGraceUntil = (until: string) => stored({ previousSecretHash: PREVIOUS, previousKeyExpiresAt: until });

const UNKNOWN_KEY = { ok: false, error: { status: 401, error: 'Unauthorized', details: 'Invalid or missing API key' } };
const missing = (permission: string) => ({ ok: false, error: { status: 403, error: 'Forbidden', details: `Missing required permission: ${permission}` } });
const acting = (version = 3) => ({ ok: true, actor: { ...claimed, permissions: ['KEYS:WRITE', 'FLOWS:READ'] }, version });

describe('actingAs: the secret auth decided on must still be one the stored key takes', () => {
  it('takes the current secret', () => {
    expect(actingAs(claimed, recheck(CURRENT), stored(), NOW)).toEqual(acting());
  });

  it('takes the replaced secret until its grace period ends, and from that instant answers like an unknown key', () => {
    expect(actingAs(claimed, recheck(PREVIOUS), rotatedWithGraceUntil(LATER), NOW)).toEqual(acting());
    expect(actingAs(claimed, recheck(PREVIOUS), rotatedWithGraceUntil(LATER), LATER)).toEqual(UNKNOWN_KEY);
    // A rotation with no grace period ends it at the rotation itself.
    expect(actingAs(claimed, recheck(PREVIOUS), rotatedWithGraceUntil(NOW), NOW)).toEqual(UNKNOWN_KEY);
  });

  it('refuses a secret the key no longer knows (replaced two rotations ago) or never held', () => {
    expect(actingAs(claimed, recheck(OTHER), rotatedWithGraceUntil(LATER), NOW)).toEqual(UNKNOWN_KEY);
    expect(actingAs(claimed, recheck(OTHER), stored(), NOW)).toEqual(UNKNOWN_KEY);
  });

  it('answers a rotated-out secret like an unknown key before telling whether the key was revoked or expired since', () => {
    expect(actingAs(claimed, recheck(OTHER), stored({ status: 'revoked' }), NOW)).toEqual(UNKNOWN_KEY);
    expect(actingAs(claimed, recheck(OTHER), stored({ expiresAt: NOW }), NOW)).toEqual(UNKNOWN_KEY);
    expect(actingAs(claimed, recheck(CURRENT), stored({ status: 'revoked' }), NOW)).toEqual({
      ok: false,
      error: { status: 401, error: 'Unauthorized', details: 'API key has been revoked' },
    });
  });
});

describe('actingAs: the route permission auth checked must still be held by the stored key', () => {
  it('refuses a key that lost it with the gateway\'s own 403, whatever auth\'s view still granted', () => {
    expect(actingAs(claimed, recheck(CURRENT, 'KEYS:WRITE'), stored({ permissions: ['KEYS:READ', 'FLOWS:*'] }), NOW)).toEqual(missing('KEYS:WRITE'));
    expect(actingAs(claimed, recheck(CURRENT, 'AUDIT:READ'), stored(), NOW)).toEqual(missing('AUDIT:READ'));
  });

  it('matches as auth does: `*` and `R:*` cover `R:A`, WRITE does not cover READ', () => {
    expect(actingAs(claimed, recheck(CURRENT, 'KEYS:WRITE'), stored({ permissions: ['*'] }), NOW)).toMatchObject({ ok: true });
    expect(actingAs(claimed, recheck(CURRENT, 'KEYS:READ'), stored({ permissions: ['KEYS:*'] }), NOW)).toMatchObject({ ok: true });
    expect(actingAs(claimed, recheck(CURRENT, 'KEYS:READ'), stored({ permissions: ['KEYS:WRITE'] }), NOW)).toEqual(missing('KEYS:READ'));
  });

  it('checks no permission for a route that requires none', () => {
    expect(actingAs(claimed, recheck(CURRENT, null), stored({ permissions: [] }), NOW)).toEqual({ ok: true, actor: { ...claimed, permissions: [] }, version: 3 });
  });

  it('refuses a permission outside the catalog with a 400 naming it, before anything else: `*` would meet a misspelt one', () => {
    const misspelt = { ok: false, error: { status: 400, error: 'Bad Request', details: 'recheck.permission: unknown permission "KEY:WRITE"' } };
    expect(actingAs(claimed, recheck(CURRENT, 'KEY:WRITE'), stored({ permissions: ['*'] }), NOW)).toEqual(misspelt);
    expect(actingAs(claimed, recheck(CURRENT, 'KEY:WRITE'), undefined, NOW)).toEqual(misspelt);
  });
});

describe('actingAs: what it takes at its word', () => {
  it('an actor naming no stored key (an internal caller), with or without a recheck', () => {
    expect(actingAs(claimed, recheck(OTHER), undefined, NOW)).toEqual({ ok: true, actor: claimed, version: null });
    expect(actingAs(claimed, undefined, undefined, NOW)).toEqual({ ok: true, actor: claimed, version: null });
  });

  it('a message without a recheck (an older gateway): judged by the stored status and permissions alone, as before', () => {
    expect(actingAs(claimed, undefined, rotatedWithGraceUntil(NOW), NOW)).toEqual(acting());
    expect(actingAs(claimed, undefined, stored({ status: 'revoked' }), NOW)).toEqual({
      ok: false,
      error: { status: 401, error: 'Unauthorized', details: 'API key has been revoked' },
    });
  });

  it('never: an account or environment other than the stored key\'s is 401, whatever secret came with it', () => {
    expect(actingAs({ ...claimed, environment: 'test' }, recheck(CURRENT), stored(), NOW)).toEqual(UNKNOWN_KEY);
    expect(actingAs({ ...claimed, accountId: 'acc_other' }, recheck(CURRENT), stored(), NOW)).toEqual(UNKNOWN_KEY);
  });
});
