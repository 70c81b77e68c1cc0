import { createLogger } from '@keyplane/observability';
import { CapturedLogs } from './captured-logs.js';

describe('CapturedLogs', () => {
  it('keeps one entry per line, dropping empty ones', () => {
    const logs = new CapturedLogs();

    logs.write('{"msg":"one"}\n{"msg":"two"}\n');
    logs.write('\n{"msg":"three"}\n');

    expect(logs.lines).toEqual(['{"msg":"one"}', '{"msg":"two"}', '{"msg":"three"}']);
    expect(logs.text()).toBe('{"msg":"one"}\n{"msg":"two"}\n{"msg":"three"}');
  });

  it('captures a pino logger as it writes, so a test can search for a secret', () => {
    const logs = new CapturedLogs();
    const logger = createLogger('gateway', { destination: logs });
    const secret = 'tv_live_4bQ9xZsecretSECRETsecret0000';

    logger.info({ keyId: 'key_1' }, 'authorized');
    logger.warn({ key: secret }, 'rejected');

    expect(logs.lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['authorized', 'rejected']);
    expect(logs.text()).toContain('key_1');
    expect(logs.text()).not.toContain(secret);
  });

  it('is empty before anything is written', () => {
    const logs = new CapturedLogs();

    expect(logs.lines).toEqual([]);
    expect(logs.text()).toBe('');
  });
});
