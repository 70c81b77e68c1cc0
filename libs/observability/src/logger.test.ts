import { LogLines } from './log-lines.js';
import { createLogger } from './logger.js';

const SECRET = 'tv_live_4bQ9xZsecretSECRETsecret0000';

describe('createLogger', () => {
  it('writes one JSON line per call, named for the service', () => {
    const out = new LogLines();
    createLogger('keys', { destination: out }).info({ keyId: 'key_1' }, 'key issued');

    expect(out.records()).toEqual([expect.objectContaining({ name: 'keys', level: 30, keyId: 'key_1', msg: 'key issued' })]);
  });

  it('redacts a top-level key, authorization and secret', () => {
    const out = new LogLines();
    createLogger('gateway', { destination: out }).info({ key: SECRET, authorization: `Bearer ${SECRET}`, secret: SECRET }, 'request');

    expect(out.lines.join('\n')).not.toContain(SECRET);
    expect(out.records()[0]).toMatchObject({ key: '[redacted]', authorization: '[redacted]', secret: '[redacted]' });
  });

  it('redacts nested key, secret and authorization fields, and request headers', () => {
    const out = new LogLines();
    createLogger('gateway', { destination: out }).warn(
      {
        body: { key: SECRET, name: 'ci' },
        config: { secret: SECRET },
        headers: { authorization: `Bearer ${SECRET}`, accept: 'application/json' },
        req: { headers: { authorization: `Bearer ${SECRET}` }, url: '/v1/keys' },
      },
      'bad request',
    );

    const text = out.lines.join('\n');
    expect(text).not.toContain(SECRET);
    expect(out.records()[0]).toMatchObject({
      body: { key: '[redacted]', name: 'ci' },
      config: { secret: '[redacted]' },
      headers: { authorization: '[redacted]', accept: 'application/json' },
      req: { headers: { authorization: '[redacted]' }, url: '/v1/keys' },
    });
  });

  it('leaves a log line without secret fields untouched', () => {
    const out = new LogLines();
    createLogger('keys', { destination: out }).info({ keyId: 'key_1', last4: 'ab12' }, 'key rotated');

    expect(out.lines.join('\n')).not.toContain('[redacted]');
  });

  it('drops lines below the configured level', () => {
    const out = new LogLines();
    const logger = createLogger('auth', { destination: out, level: 'warn' });
    logger.info('not written');
    logger.warn('written');

    expect(out.records().map((record) => record.msg)).toEqual(['written']);
  });
});
