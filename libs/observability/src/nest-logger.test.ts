import { LogLines } from './log-lines.js';
import { createLogger } from './logger.js';
import { PinoNestLogger } from './nest-logger.js';

describe('PinoNestLogger', () => {
  it('writes each Nest log call as a JSON line with its level, context and message', () => {
    const out = new LogLines();
    const nest = new PinoNestLogger(createLogger('keys', { destination: out, level: 'trace' }));

    nest.log('Nest application successfully started', 'NestApplication');
    nest.warn('slow start', 'InstanceLoader');
    nest.error('handler failed', 'Error: boom\n    at handler', 'RpcExceptionsHandler');
    nest.debug('mapped', 'RoutesResolver');
    nest.verbose('resolved', 'Injector');

    const records = out.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map(({ level, context, msg }) => ({ level, context, msg }))).toEqual([
      { level: 30, context: 'NestApplication', msg: 'Nest application successfully started' },
      { level: 40, context: 'InstanceLoader', msg: 'slow start' },
      { level: 50, context: 'RpcExceptionsHandler', msg: 'handler failed' },
      { level: 20, context: 'RoutesResolver', msg: 'mapped' },
      { level: 10, context: 'Injector', msg: 'resolved' },
    ]);
    expect(records[2].trace).toBe('Error: boom\n    at handler');
    expect(records.every((record) => record.name === 'keys')).toBe(true);
  });

  it('turns a non-string message into text', () => {
    const out = new LogLines();
    new PinoNestLogger(createLogger('keys', { destination: out })).log(42, 'Boot');

    expect(JSON.parse(out.lines[0])).toMatchObject({ context: 'Boot', msg: '42' });
  });
});
