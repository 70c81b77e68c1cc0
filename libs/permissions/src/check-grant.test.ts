import { checkGrant, type KeyEnvironment } from './check-grant.js';

const live = (...permissions: string[]) => ({ environment: 'live' as KeyEnvironment, permissions });
const test = (...permissions: string[]) => ({ environment: 'test' as KeyEnvironment, permissions });

describe('checkGrant', () => {
  it('allows granting what the actor holds', () => {
    expect(checkGrant({ actor: live('*'), environment: 'live', permissions: ['KEYS:WRITE', 'FLOWS:READ'] })).toBeNull();
    expect(checkGrant({ actor: live('FLOWS:*'), environment: 'test', permissions: ['FLOWS:EXECUTE'] })).toBeNull();
    expect(checkGrant({ actor: test('FLOWS:READ', 'KEYS:WRITE'), environment: 'test', permissions: ['FLOWS:READ'] })).toBeNull();
  });

  it('rejects invalid permissions with 400 and the validator’s details', () => {
    expect(checkGrant({ actor: live('*'), environment: 'live', permissions: ['FLOWS:READ', 'FLOW:READ'] })).toEqual({
      status: 400,
      details: 'permissions[1]: unknown permission "FLOW:READ"',
    });
    expect(checkGrant({ actor: live('*'), environment: 'live', permissions: [] })).toEqual({
      status: 400,
      details: 'permissions: must grant at least one permission',
    });
  });

  it('stops a test key managing live keys with 403', () => {
    expect(checkGrant({ actor: test('*'), environment: 'live', permissions: ['FLOWS:READ'] })).toEqual({
      status: 403,
      details: 'A test key cannot manage live keys',
    });
  });

  it('refuses test keys *, KEYS: and AUDIT: permissions with 400', () => {
    expect(checkGrant({ actor: live('*'), environment: 'test', permissions: ['FLOWS:READ', 'KEYS:READ'] })).toEqual({
      status: 400,
      details: 'permissions[1]: test keys cannot be granted "KEYS:READ"',
    });
    expect(checkGrant({ actor: live('*'), environment: 'test', permissions: ['*'] })).toEqual({
      status: 400,
      details: 'permissions[0]: test keys cannot be granted "*"',
    });
  });

  it('refuses escalation with 403', () => {
    expect(checkGrant({ actor: live('FLOWS:READ', 'KEYS:WRITE'), environment: 'live', permissions: ['FLOWS:READ', 'FLOWS:WRITE'] })).toEqual({
      status: 403,
      details: 'permissions[1]: cannot grant "FLOWS:WRITE" without holding it',
    });
    expect(checkGrant({ actor: live('FLOWS:READ', 'FLOWS:WRITE', 'FLOWS:EXECUTE'), environment: 'live', permissions: ['FLOWS:*'] })).toEqual({
      status: 403,
      details: 'permissions[0]: cannot grant "FLOWS:*" without holding it',
    });
  });

  describe('check order', () => {
    it('validation comes before the live/test rule', () => {
      expect(checkGrant({ actor: test('FLOWS:READ'), environment: 'live', permissions: ['BAD'] })?.status).toBe(400);
    });

    it('the live/test rule comes before the test-permission rule and escalation', () => {
      expect(checkGrant({ actor: test('FLOWS:READ'), environment: 'live', permissions: ['KEYS:READ'] })).toEqual({
        status: 403,
        details: 'A test key cannot manage live keys',
      });
    });

    it('the test-permission rule comes before escalation', () => {
      expect(checkGrant({ actor: live('FLOWS:READ'), environment: 'test', permissions: ['FLOWS:WRITE', 'AUDIT:READ'] })).toEqual({
        status: 400,
        details: 'permissions[1]: test keys cannot be granted "AUDIT:READ"',
      });
    });
  });
});
