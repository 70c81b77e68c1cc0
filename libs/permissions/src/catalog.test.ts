import { PERMISSIONS, isPermission } from './catalog.js';

describe('PERMISSIONS', () => {
  it('is the DESIGN §4 catalog', () => {
    expect(PERMISSIONS).toEqual([
      '*',
      'FLOWS:*',
      'FLOWS:READ',
      'FLOWS:WRITE',
      'FLOWS:EXECUTE',
      'RECORDS:*',
      'RECORDS:READ',
      'RECORDS:WRITE',
      'PROMPTS:*',
      'PROMPTS:READ',
      'PROMPTS:WRITE',
      'ANALYTICS:READ',
      'KEYS:*',
      'KEYS:READ',
      'KEYS:WRITE',
      'AUDIT:READ',
    ]);
  });

  it('recognises only catalog strings, case-sensitively', () => {
    expect(PERMISSIONS.every(isPermission)).toBe(true);
    for (const v of ['flows:read', 'FLOW:READ', 'ANALYTICS:*', 'AUDIT:*', ' FLOWS:READ', '', 42, null]) {
      expect(isPermission(v)).toBe(false);
    }
  });
});
