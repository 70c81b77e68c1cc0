import { clientAddressOf } from './client-address.js';

const from = (peer: string | undefined, forwardedFor?: string) => ({ socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });

describe('clientAddressOf', () => {
  const behindProxies = clientAddressOf(['loopback', '10.0.0.0/8', '2001:db8::/32']);

  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf([])(from('198.51.100.1', '203.0.113.9'))).toBe('198.51.100.1');
  });

  it('is the TCP peer when the peer is not trusted', () => {
    expect(behindProxies(from('198.51.100.1', '203.0.113.9, 10.0.0.5'))).toBe('198.51.100.1');
  });

  it('is the nearest entry no trusted proxy added, read from the right', () => {
    expect(behindProxies(from('127.0.0.1', '192.0.2.1, 203.0.113.9, 10.0.0.5, 10.0.0.6'))).toBe('203.0.113.9');
    expect(behindProxies(from('::ffff:127.0.0.1', '203.0.113.9'))).toBe('203.0.113.9');
  });

  it('reads entries a proxy wrote with a port as their address, so a trusted one carries the walk on', () => {
    expect(behindProxies(from('127.0.0.1', '203.0.113.9, 10.0.0.5:1234'))).toBe('203.0.113.9');
    expect(behindProxies(from('127.0.0.1', '198.51.100.7, [2001:db8::1]:443'))).toBe('198.51.100.7');
    expect(behindProxies(from('127.0.0.1', '[2001:db8:ffff::9]:443, 10.0.0.5:1234'))).toBe('2001:db8:ffff::9');
    expect(behindProxies(from('127.0.0.1', '203.0.113.9:50312'))).toBe('203.0.113.9');
    expect(behindProxies(from('127.0.0.1', '[2001:db9::5]:50312'))).toBe('2001:db9::5');
  });

  it('stops at the trusted hop that wrote an entry which is no address, never reading past it', () => {
    expect(behindProxies(from('127.0.0.1', '198.51.100.7, garbage'))).toBe('127.0.0.1');
    expect(behindProxies(from('127.0.0.1', '198.51.100.7, unknown, 10.0.0.5'))).toBe('10.0.0.5');
    expect(behindProxies(from('127.0.0.1', '198.51.100.7, , 10.0.0.5'))).toBe('10.0.0.5');
    expect(behindProxies(from('127.0.0.1', '198.51.100.7, 10.0.0.5:99999'))).toBe('127.0.0.1');
    expect(behindProxies(from('127.0.0.1', ''))).toBe('127.0.0.1');
  });

  it('is the farthest trusted address when every entry is a trusted proxy', () => {
    expect(behindProxies(from('127.0.0.1', '10.0.0.7, 10.0.0.5'))).toBe('10.0.0.7');
  });

  it('expands the presets to the ranges proxy-addr gives them', () => {
    const presets = clientAddressOf(['linklocal', 'uniquelocal']);
    for (const proxy of ['169.254.1.1', 'fe80::1', '10.1.1.1', '172.31.0.1', '192.168.0.1', 'fd12::1']) {
      expect(presets(from(proxy, '203.0.113.9'))).toBe('203.0.113.9');
    }
    expect(presets(from('172.32.0.1', '203.0.113.9'))).toBe('172.32.0.1');
  });

  it('trusts a single address exactly', () => {
    const one = clientAddressOf(['192.168.1.7']);
    expect(one(from('192.168.1.7', '203.0.113.9'))).toBe('203.0.113.9');
    expect(one(from('192.168.1.8', '203.0.113.9'))).toBe('192.168.1.8');
  });

  it('is empty when the socket no longer knows its peer', () => {
    expect(behindProxies(from(undefined, '203.0.113.9'))).toBe('');
  });
});
