import { natsServerOptions } from './server-options.js';

describe('natsServerOptions', () => {
  it('connects without credentials to a URL that has none', () => {
    expect(natsServerOptions('nats://127.0.0.1:4222')).toEqual({ servers: 'nats://127.0.0.1:4222' });
  });

  it('takes a user and password out of the URL', () => {
    expect(natsServerOptions('nats://keys:k3y-pass@nats:4222')).toEqual({ servers: 'nats://nats:4222', user: 'keys', pass: 'k3y-pass' });
  });

  it('decodes percent-encoded characters in them, and keeps a stray % as typed', () => {
    expect(natsServerOptions('tls://auth:p%40ss%3Aw%2Fd@nats:4222')).toEqual({ servers: 'tls://nats:4222', user: 'auth', pass: 'p@ss:w/d' });
    expect(natsServerOptions('nats://auth:100%zz@nats:4222')).toMatchObject({ pass: '100%zz' });
  });

  it('reads a user alone as a token', () => {
    expect(natsServerOptions('nats://s3cr3t-token@nats:4222')).toEqual({ servers: 'nats://nats:4222', token: 's3cr3t-token' });
  });
});
