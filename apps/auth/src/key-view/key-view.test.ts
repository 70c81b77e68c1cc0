import { issued, permissionsChanged, rateLimitsChanged, renamed, revoked, rotated } from '../../test/support/key-events.js';
import type { KeyIssued, KeySecretRotated } from '@keyplane/contracts';
import { KeyView } from './key-view.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');

function viewOf(...events: Parameters<KeyView['apply']>[0][]): KeyView {
  const view = new KeyView();
  for (const event of events) view.apply(event);
  return view;
}

/** The event carrying another secret hash, as a corrupt or forged one would. */
function withSecretHash<E extends KeyIssued | KeySecretRotated>(event: E, secretHash: string): E {
  return { ...event, data: { ...event.data, secret: { ...event.data.secret, secretHash } } };
}

describe('KeyView', () => {
  it('finds an issued key by the hash of its secret', () => {
    const key = issued({ permissions: ['FLOWS:READ'], rateLimits: { hour: 5, day: 50 }, expiresAt: '2027-01-01T00:00:00.000Z' });
    expect(viewOf(key.event).lookup(key.secret.hash, NOW)).toEqual({
      rotatedOut: false,
      key: {
        keyId: key.keyId,
        accountId: 'acc_test',
        environment: 'live',
        permissions: ['FLOWS:READ'],
        rateLimits: { hour: 5, day: 50 },
        expiresAt: Date.parse('2027-01-01T00:00:00.000Z'),
        revoked: false,
      },
    });
  });

  it('knows nothing of a hash it was never told about', () => {
    expect(viewOf(issued().event).lookup(issued().secret.hash, NOW)).toBeNull();
  });

  it('marks a key revoked', () => {
    const key = issued();
    expect(viewOf(key.event, revoked(key.keyId)).lookup(key.secret.hash, NOW)?.key.revoked).toBe(true);
  });

  it('follows permission and rate limit changes, and ignores renames', () => {
    const key = issued({ permissions: ['*'] });
    const view = viewOf(
      key.event,
      permissionsChanged(key.keyId, ['RECORDS:READ']),
      rateLimitsChanged(key.keyId, { hour: 3, day: 4 }),
      renamed(key.keyId, 'new name'),
    );
    const found = view.lookup(key.secret.hash, NOW)?.key;
    expect(found?.permissions).toEqual(['RECORDS:READ']);
    expect(found?.rateLimits).toEqual({ hour: 3, day: 4 });
  });

  it('keeps the previous secret valid until previousKeyExpiresAt, then reports it rotated out', () => {
    const key = issued();
    const graceEnds = '2026-11-26T12:05:00.000Z';
    const rotation = rotated(key.keyId, key.secret, graceEnds);
    const view = viewOf(key.event, rotation.event);

    expect(view.lookup(rotation.secret.hash, NOW)?.rotatedOut).toBe(false);
    expect(view.lookup(key.secret.hash, NOW)?.rotatedOut).toBe(false);
    expect(view.lookup(key.secret.hash, Date.parse(graceEnds) - 1)?.rotatedOut).toBe(false);
    expect(view.lookup(key.secret.hash, Date.parse(graceEnds))?.rotatedOut).toBe(true);
    expect(view.lookup(rotation.secret.hash, Date.parse(graceEnds) + 1)?.rotatedOut).toBe(false);
  });

  it('rotates out at once without a grace period', () => {
    const key = issued();
    const rotation = rotated(key.keyId, key.secret, '2026-11-26T11:00:00.000Z', '2026-11-26T11:00:00.000Z');
    expect(viewOf(key.event, rotation.event).lookup(key.secret.hash, NOW)?.rotatedOut).toBe(true);
  });

  it('never extends an older secret when a later rotation gives a longer grace period', () => {
    const key = issued();
    const first = rotated(key.keyId, key.secret, '2026-11-26T12:10:00.000Z');
    const second = rotated(key.keyId, first.secret, '2026-11-26T13:00:00.000Z');
    const view = viewOf(key.event, first.event, second.event);
    const later = Date.parse('2026-11-26T12:30:00.000Z');
    expect(view.lookup(key.secret.hash, later)?.rotatedOut).toBe(true);
    expect(view.lookup(first.secret.hash, later)?.rotatedOut).toBe(false);
    expect(view.lookup(second.secret.hash, later)?.rotatedOut).toBe(false);
  });

  it('keeps one previous secret: rotating again ends the earlier grace period at that rotation', () => {
    const key = issued();
    const first = rotated(key.keyId, key.secret, '2026-11-26T13:00:00.000Z', '2026-11-26T11:00:00.000Z');
    const second = rotated(key.keyId, first.secret, '2026-11-26T13:00:00.000Z', '2026-11-26T11:30:00.000Z');
    const view = viewOf(key.event, first.event, second.event);
    expect(view.lookup(key.secret.hash, Date.parse('2026-11-26T11:29:59.999Z'))?.rotatedOut).toBe(false);
    expect(view.lookup(key.secret.hash, Date.parse('2026-11-26T11:30:00.000Z'))?.rotatedOut).toBe(true);
    expect(view.lookup(first.secret.hash, NOW)?.rotatedOut).toBe(false);
    expect(view.lookup(second.secret.hash, NOW)?.rotatedOut).toBe(false);

    const third = rotated(key.keyId, second.secret, '2026-11-26T11:45:00.000Z', '2026-11-26T11:45:00.000Z');
    view.apply(third.event);
    expect([key, first, second, third].map(({ secret }) => view.lookup(secret.hash, NOW)?.rotatedOut)).toEqual([true, true, true, false]);
    expect(view.lookup(key.secret.hash, NOW)?.key.keyId).toBe(key.keyId);
  });

  it('shares the key state between all of its secrets', () => {
    const key = issued();
    const rotation = rotated(key.keyId, key.secret, '2026-11-26T13:00:00.000Z');
    const view = viewOf(key.event, rotation.event, revoked(key.keyId));
    expect(view.lookup(key.secret.hash, NOW)?.key.revoked).toBe(true);
    expect(view.lookup(rotation.secret.hash, NOW)?.key.revoked).toBe(true);
  });

  it("refuses a secret another key holds, issued or rotated in: the requests made with it stay that key's", () => {
    const owner = issued({ permissions: ['FLOWS:READ'] });
    const thief = issued({ permissions: ['*'] });
    const view = viewOf(owner.event);
    expect(view.apply(withSecretHash(thief.event as KeyIssued, owner.secret.hash))).toBe(false);
    const other = issued();
    view.apply(other.event);
    const rotation = rotated(other.keyId, other.secret, '2026-11-26T13:00:00.000Z');
    expect(view.apply(withSecretHash(rotation.event as KeySecretRotated, owner.secret.hash))).toBe(false);
    expect(view.lookup(owner.secret.hash, NOW)).toEqual({ key: expect.objectContaining({ keyId: owner.keyId, permissions: ['FLOWS:READ'] }), rotatedOut: false });
    expect(view.lookup(other.secret.hash, NOW)?.rotatedOut).toBe(false);
  });

  it('refuses events that do not fit: a second KeyIssued, a change to a key never issued', () => {
    const key = issued({ permissions: ['FLOWS:READ'] });
    const view = viewOf(key.event);
    expect(view.apply({ ...key.event, data: { ...key.event.data, permissions: ['*'] } })).toBe(false);
    expect(view.apply(revoked(issued().keyId))).toBe(false);
    expect(view.lookup(key.secret.hash, NOW)?.key.permissions).toEqual(['FLOWS:READ']);
    expect(view.size).toBe(1);
  });

  it('holds an account, permission list or limits that keys share once, and a change to one key leaves the others as they were', () => {
    const a = issued({ permissions: ['FLOWS:READ', 'RECORDS:READ'], rateLimits: { hour: 5, day: 50 } });
    const b = issued({ permissions: ['FLOWS:READ', 'RECORDS:READ'], rateLimits: { hour: 5, day: 50 } });
    const view = viewOf(a.event, b.event);
    const [stateA, stateB] = [a, b].map(({ secret }) => view.lookup(secret.hash, NOW)?.key);
    expect(stateA?.permissions).toBe(stateB?.permissions);
    expect(stateA?.rateLimits).toBe(stateB?.rateLimits);
    expect(Object.isFrozen(stateA?.permissions) && Object.isFrozen(stateA?.rateLimits)).toBe(true);

    view.apply(permissionsChanged(a.keyId, ['RECORDS:READ', 'FLOWS:READ']));
    view.apply(rateLimitsChanged(a.keyId, { hour: 6, day: 60 }));
    expect(view.lookup(a.secret.hash, NOW)?.key).toMatchObject({ permissions: ['RECORDS:READ', 'FLOWS:READ'], rateLimits: { hour: 6, day: 60 } });
    expect(view.lookup(b.secret.hash, NOW)?.key).toMatchObject({ permissions: ['FLOWS:READ', 'RECORDS:READ'], rateLimits: { hour: 5, day: 50 } });
  });

  it('answers a secret rotated back in as current, whatever became of its earlier grace period', () => {
    const key = issued();
    const away = rotated(key.keyId, key.secret, '2026-11-26T11:00:00.000Z', '2026-11-26T11:00:00.000Z');
    const view = viewOf(key.event, away.event);
    expect(view.lookup(key.secret.hash, NOW)?.rotatedOut).toBe(true);
    const event = away.event as KeySecretRotated;
    const back: KeySecretRotated = {
      ...event,
      eventId: 'back',
      data: { secret: key.event.data.secret, previousSecretHash: away.secret.hash, previousKeyExpiresAt: '2026-11-26T11:30:00.000Z' },
    };
    expect(view.apply(back)).toBe(true);
    expect(view.lookup(key.secret.hash, NOW)?.rotatedOut).toBe(false);
    expect(view.lookup(away.secret.hash, NOW)?.rotatedOut).toBe(true);
  });

  it('hands out key states that later events do not change under the holder', () => {
    const key = issued({ permissions: ['FLOWS:READ'] });
    const view = viewOf(key.event);
    const before = view.lookup(key.secret.hash, NOW)?.key;
    view.apply(permissionsChanged(key.keyId, ['*']));
    view.apply(revoked(key.keyId));
    expect(before?.permissions).toEqual(['FLOWS:READ']);
    expect(before?.revoked).toBe(false);
  });

  describe('while a view is folded anew from the first message (the keys store went back)', () => {
    it('answers from the view being folded first: a key made or revoked since is seen as it is now', () => {
      const kept = issued();
      const made = issued();
      const view = viewOf(kept.event);
      const anew = view.foldAnew();
      anew.apply(kept.event);
      anew.apply(revoked(kept.keyId));
      anew.apply(made.event);
      expect([view.lookup(kept.secret.hash, NOW)?.key.revoked, view.lookup(made.secret.hash, NOW)?.key.keyId]).toEqual([true, made.keyId]);
    });

    it('answers a hash the view being folded does not know yet from what it held, until replaced by it', () => {
      const kept = issued();
      const lost = issued();
      const view = viewOf(kept.event, lost.event);
      const anew = view.foldAnew();
      expect([kept, lost].map((key) => view.lookup(key.secret.hash, NOW)?.key.keyId)).toEqual([kept.keyId, lost.keyId]);
      anew.apply(kept.event);
      view.replaceWith(anew);
      expect([kept, lost].map((key) => view.lookup(key.secret.hash, NOW)?.key.keyId ?? null)).toEqual([kept.keyId, null]);
    });
  });
});

