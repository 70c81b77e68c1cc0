import type { RateLimits } from '@keyplane/contracts';
import { issued, revoked } from '../../test/support/key-events.js';
import { KeyView, type KeyLookup } from '../key-view/key-view.js';
import { decideRequest } from '../../test/support/requests.js';
import { Authorizer } from './authorizer.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');

function authorizer(view: KeyView) {
  const consumed: { keyId: string; limits: RateLimits; now: number }[] = [];
  const keys = { lookup: async (hash: string, now: () => number) => ({ found: view.lookup(hash, now()) as KeyLookup | null, at: now() }) };
  const subject = new Authorizer(
    keys,
    async (keyId, limits, now) => {
      consumed.push({ keyId, limits, now });
      return { admitted: true, hourUsed: 1, dayUsed: 1 };
    },
    () => NOW,
  );
  return { subject, consumed };
}

describe('Authorizer', () => {
  it('counts an admitted key against its own limits, at the decision time', async () => {
    const key = issued({ rateLimits: { hour: 7, day: 70 } });
    const view = new KeyView();
    view.apply(key.event);
    const { subject, consumed } = authorizer(view);
    const decided = await subject.decide(decideRequest(key.secret.hash, null));
    expect(decided.decision.outcome).toBe('allowed');
    expect(decided.matched?.keyId).toBe(key.keyId);
    expect(consumed).toEqual([{ keyId: key.keyId, limits: { hour: 7, day: 70 }, now: NOW }]);
  });

  it('touches no quota for a refused key, yet names the key it matched', async () => {
    const key = issued();
    const view = new KeyView();
    view.apply(key.event);
    view.apply(revoked(key.keyId));
    const { subject, consumed } = authorizer(view);
    const decided = await subject.decide(decideRequest(key.secret.hash, null));
    expect(decided.decision).toEqual({ outcome: 'unauthorized', reason: 'revoked', key: null, limits: null });
    expect(decided.matched?.keyId).toBe(key.keyId);
    expect(consumed).toEqual([]);
  });
});
