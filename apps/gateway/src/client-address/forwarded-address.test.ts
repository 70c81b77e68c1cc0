import { forwardedAddress } from './forwarded-address.js';

describe('forwardedAddress', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:50312', '203.0.113.5'],
    ['10.0.0.5:1234', '10.0.0.5'],
    ['2001:db8::1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[::ffff:10.0.0.5]:80', '::ffff:10.0.0.5'],
    ['2001:db8::1:443', '2001:db8::1:443'],
    ['[fe80::1%eth0]:8080', 'fe80::1%eth0'],
  ])('reads %s as %s', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address);
  });

  it.each(['', 'unknown', '_hidden', 'proxy.example.com', 'proxy.example.com:80', '10.0.0.5:', '10.0.0.5:99999', '10.0.0.5:80:80', '[10.0.0.5]:80', '[2001:db8::1]:', '[2001:db8::1', '2001:db8::1]:443', '"[2001:db8::1]:443"', '010.0.0.5'])(
    'reads %j as no address',
    (entry) => {
      expect(forwardedAddress(entry)).toBeNull();
    },
  );
});
