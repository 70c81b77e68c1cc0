import fc from 'fast-check';
import { PERMISSIONS } from './catalog.js';
import { canGrant, covers, permissionCovers } from './covers.js';
import { satisfies } from './satisfies.js';

const permission = fc.constantFrom(...PERMISSIONS);
const permissionSet = fc.subarray([...PERMISSIONS]);

describe('covers', () => {
  it.each([
    [['*'], '*', true],
    [['*'], 'KEYS:WRITE', true],
    [['FLOWS:*'], 'FLOWS:*', true],
    [['FLOWS:*'], 'FLOWS:EXECUTE', true],
    [['FLOWS:*'], 'RECORDS:READ', false],
    [['FLOWS:*'], '*', false],
    [['FLOWS:READ'], 'FLOWS:READ', true],
    [['FLOWS:READ'], 'FLOWS:*', false],
    [['FLOWS:WRITE'], 'FLOWS:READ', false],
    [['FLOWS:READ', 'FLOWS:WRITE', 'FLOWS:EXECUTE'], 'FLOWS:*', false],
    [[], 'FLOWS:READ', false],
  ])('%j covers %s: %s', (holder, wanted, expected) => {
    expect(covers(holder, wanted)).toBe(expected);
  });

  it('is reflexive over the catalog', () => {
    for (const p of PERMISSIONS) expect(permissionCovers(p, p)).toBe(true);
    fc.assert(fc.property(permissionSet, (holder) => holder.every((p) => covers(holder, p))));
  });

  it('is transitive over the catalog', () => {
    for (const a of PERMISSIONS)
      for (const b of PERMISSIONS)
        for (const c of PERMISSIONS) {
          if (permissionCovers(a, b) && permissionCovers(b, c)) expect(permissionCovers(a, c)).toBe(true);
        }
  });

  it('is transitive for sets: whatever a granted key could hand on, its granter could too', () => {
    fc.assert(
      fc.property(permissionSet, permissionSet, permission, (holder, middle, wanted) => {
        fc.pre(middle.every((m) => covers(holder, m)));
        if (covers(middle, wanted)) expect(covers(holder, wanted)).toBe(true);
      }),
    );
  });

  it('is sound: a granted subset never satisfies what its granter could not', () => {
    fc.assert(
      fc.property(permissionSet, permissionSet, fc.oneof(permission, fc.string()), (holder, wanted, required) => {
        fc.pre(wanted.every((w) => covers(holder, w)));
        if (satisfies(wanted, required)) expect(satisfies(holder, required)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canGrant', () => {
  it('returns the first permission the holder cannot grant', () => {
    expect(canGrant(['FLOWS:*', 'RECORDS:READ'], ['FLOWS:READ', 'RECORDS:WRITE', 'KEYS:READ'])).toBe('RECORDS:WRITE');
  });

  it('returns null when every wanted permission is covered', () => {
    expect(canGrant(['FLOWS:*', 'RECORDS:READ'], ['FLOWS:READ', 'RECORDS:READ'])).toBeNull();
    expect(canGrant(['*'], [...PERMISSIONS])).toBeNull();
    expect(canGrant([], [])).toBeNull();
  });
});
