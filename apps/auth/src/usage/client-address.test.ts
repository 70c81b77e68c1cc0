import { canonicalAddress } from './client-address.js';

describe('canonicalAddress', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:50312', '203.0.113.5'],
    [' 203.0.113.5 ', '203.0.113.5'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:7f00:1', '127.0.0.1'],
    ['[::ffff:203.0.113.5]:80', '203.0.113.5'],
    ['::1', '::1'],
    ['FE80::1%eth0', 'fe80::1%eth0'],
  ])('writes %s as %s', (text, address) => {
    expect(canonicalAddress(text)).toBe(address);
  });

  it.each(['unknown', 'garbage<script>', '', '01.2.3.4', 'example.com:80', '[nope]'])('keeps %j, which is no address, as it came', (text) => {
    expect(canonicalAddress(text)).toBe(text);
  });
});
