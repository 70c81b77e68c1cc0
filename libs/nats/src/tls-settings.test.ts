import { natsServerOptions } from './server-options.js';
import { natsTlsFromSettings, natsTlsOptions } from './tls.js';

describe('natsTlsFromSettings', () => {
  it('asks for no TLS when no setting is made', () => {
    expect(natsTlsFromSettings({})).toBeUndefined();
  });

  it('takes a CA alone, a client certificate with its key, or both', () => {
    expect(natsTlsFromSettings({ caFile: '/tls/ca.pem' })).toEqual({ caFile: '/tls/ca.pem' });
    expect(natsTlsFromSettings({ certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' })).toEqual({ certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' });
    expect(natsTlsFromSettings({ caFile: '/tls/ca.pem', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' })).toEqual({
      caFile: '/tls/ca.pem',
      certFile: '/tls/tls.crt',
      keyFile: '/tls/tls.key',
    });
  });

  it('refuses a client certificate without its key, or a key without its certificate, naming both variables', () => {
    expect(() => natsTlsFromSettings({ caFile: '/tls/ca.pem', certFile: '/tls/tls.crt' })).toThrow(
      new Error('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together (a client certificate and its key): NATS_TLS_CERT_FILE is set, NATS_TLS_KEY_FILE is not'),
    );
    expect(() => natsTlsFromSettings({ keyFile: '/tls/tls.key' })).toThrow(
      new Error('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together (a client certificate and its key): NATS_TLS_KEY_FILE is set, NATS_TLS_CERT_FILE is not'),
    );
  });
});

describe('natsTlsOptions', () => {
  it('requires TLS for a tls:// URL, with or without settings, and for any setting', () => {
    expect(natsTlsOptions('tls://nats:4222', undefined)).toEqual({});
    expect(natsTlsOptions('tls://nats:4222', { caFile: '/tls/ca.pem' })).toEqual({ caFile: '/tls/ca.pem' });
    expect(natsTlsOptions('nats://nats:4222', { caFile: '/tls/ca.pem' })).toEqual({ caFile: '/tls/ca.pem' });
  });

  it('leaves a nats:// URL without settings to the server, as before', () => {
    expect(natsTlsOptions('nats://nats:4222', undefined)).toBeUndefined();
    expect(natsServerOptions('nats://keys:pw@nats:4222')).toEqual({ servers: 'nats://nats:4222', user: 'keys', pass: 'pw', inboxPrefix: '_INBOX.keys' });
  });

  it('goes with the login natsServerOptions takes out of the URL', () => {
    expect(natsServerOptions('tls://keys:pw@nats:4222', { caFile: '/tls/ca.pem' })).toEqual({
      servers: 'tls://nats:4222',
      user: 'keys',
      pass: 'pw',
      inboxPrefix: '_INBOX.keys',
      tls: { caFile: '/tls/ca.pem' },
    });
  });
});
