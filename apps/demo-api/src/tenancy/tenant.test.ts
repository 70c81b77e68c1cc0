import { partitionOf, readTenant } from './tenant.js';

describe('readTenant', () => {
  it('reads the account and environment the gateway sets', () => {
    expect(readTenant({ 'x-keyplane-environment': 'test', 'x-keyplane-account-id': 'acc_1' })).toEqual({
      ok: true,
      tenant: { accountId: 'acc_1', environment: 'test' },
    });
  });

  it('refuses a request that did not come through the gateway', () => {
    expect(readTenant({ 'x-keyplane-account-id': 'acc_1' })).toEqual({
      ok: false,
      details: 'X-Keyplane-Environment header must be "live" or "test"',
    });
    expect(readTenant({ 'x-keyplane-environment': 'live', 'x-keyplane-account-id': ['acc_1', 'acc_2'] })).toEqual({
      ok: false,
      details: 'X-Keyplane-Account-Id header must be an account id like acc_...',
    });
  });

  it('gives live and test data of one account different partitions', () => {
    expect(partitionOf({ accountId: 'acc_1', environment: 'live' })).not.toBe(partitionOf({ accountId: 'acc_1', environment: 'test' }));
  });
});
