import { createLogger, LogLines } from '@keyplane/observability';
import { closeOnSignals, exitOnStartupFailure } from './signals.js';

const realExit = process.exit;
let exits: (number | string | null | undefined)[];
let before: Record<'SIGTERM' | 'SIGINT', NodeJS.SignalsListener[]>;

beforeEach(() => {
  exits = [];
  process.exit = ((code?: number | string | null) => {
    exits.push(code);
  }) as typeof process.exit;
  before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
});

afterEach(() => {
  process.exit = realExit;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    for (const listener of added(signal)) process.off(signal, listener);
  }
});

/** The listeners the test registered, called directly so no real signal reaches the test runner. */
function added(signal: 'SIGTERM' | 'SIGINT'): NodeJS.SignalsListener[] {
  return process.listeners(signal).filter((listener) => !before[signal].includes(listener));
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('closeOnSignals', () => {
  it('closes once on SIGTERM or SIGINT, logs the signal, and exits 0', async () => {
    const logs = new LogLines();
    let closed = 0;
    closeOnSignals(createLogger('keys', { destination: logs }), async () => {
      closed += 1;
    });
    const [onTerm] = added('SIGTERM');
    const [onInt] = added('SIGINT');

    onTerm('SIGTERM');
    onInt('SIGINT');
    await settle();

    expect(closed).toBe(1);
    expect(exits).toEqual([0]);
    expect(logs.records()).toEqual([expect.objectContaining({ level: 30, signal: 'SIGTERM', msg: 'shutting down' })]);
  });

  it('logs a failed shutdown and exits 1', async () => {
    const logs = new LogLines();
    closeOnSignals(createLogger('keys', { destination: logs }), () => Promise.reject(new Error('pool stuck')));

    added('SIGINT')[0]('SIGINT');
    await settle();

    expect(exits).toEqual([1]);
    expect(logs.records()[1]).toMatchObject({ level: 50, msg: 'shutdown failed', err: { message: 'pool stuck' } });
  });
});

describe('exitOnStartupFailure', () => {
  it('logs the error as one fatal JSON line and exits 1', () => {
    const logs = new LogLines();

    exitOnStartupFailure(createLogger('auth', { destination: logs }))(new Error('DATABASE_POOL_SIZE must be an integer between 1 and 200, got "lots"'));

    expect(exits).toEqual([1]);
    expect(logs.records()).toEqual([
      expect.objectContaining({
        level: 60,
        name: 'auth',
        msg: 'DATABASE_POOL_SIZE must be an integer between 1 and 200, got "lots"',
        err: expect.objectContaining({ type: 'Error' }),
      }),
    ]);
  });

  it('logs a thrown non-Error as text', () => {
    const logs = new LogLines();

    exitOnStartupFailure(createLogger('auth', { destination: logs }))('NATS is not reachable');

    expect(exits).toEqual([1]);
    expect(logs.records()[0]).toMatchObject({ level: 60, msg: 'NATS is not reachable' });
  });
});
