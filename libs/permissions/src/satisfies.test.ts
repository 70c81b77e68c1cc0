import fc from 'fast-check';
import { PERMISSIONS } from './catalog.js';
import { satisfies } from './satisfies.js';

/** DESIGN §4 written as the set of grants that meet each requirement. */
function spec(granted: readonly string[], required: string): boolean {
  const match = /^([^:]+):([^:]+)$/.exec(required);
  const satisfiers = required === '*' ? ['*'] : match ? ['*', `${match[1]}:*`, required] : [];
  return granted.some((g) => satisfiers.includes(g));
}

describe('satisfies', () => {
  it.each([
    [['*'], 'FLOWS:READ', true],
    [['FLOWS:*'], 'FLOWS:EXECUTE', true],
    [['FLOWS:READ'], 'FLOWS:READ', true],
    [['FLOWS:WRITE'], 'FLOWS:READ', false],
    [['KEYS:WRITE'], 'KEYS:READ', false],
    [['FLOWS:*'], 'RECORDS:READ', false],
    [['RECORDS:READ', 'PROMPTS:*'], 'PROMPTS:WRITE', true],
    [['flows:read'], 'FLOWS:READ', false],
    [['FLOWS:READ'], 'flows:read', false],
    [[], 'FLOWS:READ', false],
    [['FLOWS:*'], 'FLOWS:*', true],
    [['FLOWS:READ'], 'FLOWS:*', false],
    [['*'], '*', true],
    [['FLOWS:*'], '*', false],
  ])('%j satisfies %s: %s', (granted, required, expected) => {
    expect(satisfies(granted, required)).toBe(expected);
  });

  it('fails closed on a malformed requirement, even for *', () => {
    for (const required of ['', 'FLOWS', 'FLOWS:', ':READ', 'FLOWS:READ:X']) {
      expect(satisfies(['*', required], required)).toBe(false);
    }
  });

  it('matches the spec for random grants and requirements', () => {
    const word = fc.constantFrom('FLOWS', 'RECORDS', 'KEYS', 'READ', 'WRITE', '*', 'x', '');
    const perm = fc.oneof(
      fc.constantFrom(...PERMISSIONS),
      fc.tuple(word, word).map(([r, a]) => `${r}:${a}`),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(perm, { maxLength: 8 }), perm, (granted, required) => {
        expect(satisfies(granted, required)).toBe(spec(granted, required));
      }),
      { numRuns: 2000 },
    );
  });
});
