import type { KeyLookup, KeyState } from '../key-view/key-view.js';
import { admit } from './admit.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');

const key: KeyState = {
  keyId: 'key_01JDX0000000000000000000AB',
  accountId: 'acc_test',
  environment: 'live',
  permissions: ['*'],
  rateLimits: { hour: 10, day: 100 },
  expiresAt: null,
  revoked: false,
};
const found = (change: Partial<KeyState> = {}, rotatedOut = false): KeyLookup => ({ key: { ...key, ...change }, rotatedOut });

describe('admit', () => {
  it('admits an active key', () => {
    expect(admit(found(), NOW)).toEqual({ ok: true, key });
  });

  it('turns away a hash that matches no key', () => {
    expect(admit(null, NOW)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('turns away a revoked key', () => {
    expect(admit(found({ revoked: true }), NOW)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('turns away a key from the instant it expires', () => {
    expect(admit(found({ expiresAt: NOW + 1 }), NOW)).toMatchObject({ ok: true });
    expect(admit(found({ expiresAt: NOW }), NOW)).toEqual({ ok: false, reason: 'expired' });
  });

  it('turns away a rotated-out secret of a key that is otherwise fine', () => {
    expect(admit(found({}, true), NOW)).toEqual({ ok: false, reason: 'rotated_out' });
  });

  it('checks in order: rotated out (whatever became of the key since), then revoked, then expired', () => {
    expect(admit(found({ revoked: true, expiresAt: NOW - 1 }, true), NOW)).toEqual({ ok: false, reason: 'rotated_out' });
    expect(admit(found({ expiresAt: NOW - 1 }, true), NOW)).toEqual({ ok: false, reason: 'rotated_out' });
    expect(admit(found({ revoked: true, expiresAt: NOW - 1 }), NOW)).toEqual({ ok: false, reason: 'revoked' });
  });
});
