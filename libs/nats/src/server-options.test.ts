import { inboxPrefixFor } from './inbox-prefix.js';
import { natsServerOptions } from './server-options.js';

describe('natsServerOptions', () => {
  it('connects without credentials to a URL that has none', () => {
    expect(natsServerOptions('nats://127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222' });
  });

  it('takes a user and password out of the URL, and gives the user an inbox of its own', () => {
    expect(natsServerOptions('nats://keys:k3y-pass@nats:4222')).toEqual({ servers: 'nats://nats:4222', user: 'keys', pass: 'k3y-pass', inboxPrefix: '_INBOX.keys' });
  });

  it('decodes percent-encoded characters in them, and keeps a stray % as typed', () => {
    expect(natsServerOptions('tls://auth:p%40ss%3Aw%2Fd@nats:4222')).toEqual({ servers: 'tls://nats:4222', user: 'auth', pass: 'p@ss:w/d', inboxPrefix: '_INBOX.auth', tls: {} });
    expect(natsServerOptions('nats://auth:100%zz@nats:4222')).toMatchObject({ pass: '100%zz' });
  });

  it('reads a user alone as a token, which never names an inbox', () => {
    expect(natsServerOptions('nats://s3cr3t-token@nats:4222')).toEqual({ servers: 'nats://nats:4222', token: 's3cr3t-token' });
  });

  it('leaves the default inbox to a password without a user', () => {
    expect(natsServerOptions('nats://:pass@nats:4222')).toEqual({ servers: 'nats://nats:4222', user: '', pass: 'pass' });
  });
});

describe('inboxPrefixFor', () => {
  it('puts a user under _INBOX, a decoded name as it is', () => {
    expect(inboxPrefixFor('gateway')).toBe('_INBOX.gateway');
    expect(natsServerOptions('nats://svc%2Dauth:p@nats:4222').inboxPrefix).toBe('_INBOX.svc-auth');
  });

  it('refuses a user that cannot name a subject, naming it', () => {
    for (const user of ['my auth', 'auth.', 'a..b', '*', 'a.>']) {
      expect(() => inboxPrefixFor(user)).toThrow(`the NATS user ${JSON.stringify(user)} cannot name an inbox subject (_INBOX.${user}): use letters, digits, "-" and "_"`);
    }
    expect(() => natsServerOptions('nats://my%20auth:p@nats:4222')).toThrow('the NATS user "my auth" cannot name an inbox subject');
  });
});
