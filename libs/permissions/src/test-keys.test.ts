import { PERMISSIONS } from './catalog.js';
import { forbiddenForTestKeys } from './test-keys.js';

describe('forbiddenForTestKeys', () => {
  it('forbids *, KEYS: and AUDIT: permissions', () => {
    const forbidden = PERMISSIONS.filter((p) => forbiddenForTestKeys([p]) !== null);
    expect(forbidden).toEqual(['*', 'KEYS:*', 'KEYS:READ', 'KEYS:WRITE', 'AUDIT:READ']);
  });

  it('returns the first forbidden permission in the caller’s order', () => {
    expect(forbiddenForTestKeys(['FLOWS:READ', 'AUDIT:READ', '*'])).toBe('AUDIT:READ');
  });

  it('returns null when everything is allowed', () => {
    expect(forbiddenForTestKeys(['FLOWS:*', 'RECORDS:*', 'PROMPTS:*', 'ANALYTICS:READ'])).toBeNull();
    expect(forbiddenForTestKeys([])).toBeNull();
  });
});
