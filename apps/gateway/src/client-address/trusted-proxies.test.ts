import { parseTrustedProxies } from './trusted-proxies.js';

describe('parseTrustedProxies', () => {
  it('trusts nobody when unset or empty', () => {
    expect(parseTrustedProxies(undefined)).toEqual([]);
    expect(parseTrustedProxies('  ')).toEqual([]);
  });

  it('reads addresses, CIDR ranges and presets', () => {
    expect(parseTrustedProxies('loopback, 10.0.0.0/8,192.168.1.7 , fd00::/8,::1,uniquelocal,linklocal')).toEqual([
      'loopback',
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
      '::1',
      'uniquelocal',
      'linklocal',
    ]);
  });

  it.each(['*', 'true', '10.0.0.0/33', '::/129', '10.0.0/8', 'example.com', '10.0.0.0/', '10.0.0.0/8/8', ''])('refuses "%s", naming the variable', (entry) => {
    expect(() => parseTrustedProxies(`loopback,${entry}`)).toThrow(`TRUSTED_PROXIES must list addresses, CIDR ranges or loopback/linklocal/uniquelocal, got "${entry}"`);
  });
});
