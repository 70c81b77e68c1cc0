import { EventEmitter } from 'node:events';
import { exitOnFatalErrors } from './fatal-errors.js';
import { LogLines } from './log-lines.js';
import { createLogger } from './logger.js';

/** A stand-in for `process`: its two fatal events, and the exit codes asked for. */
function fakeProcess() {
  const events = new EventEmitter();
  const exits: number[] = [];
  return { events, exits, source: { on: events.on.bind(events), exit: (code: number) => exits.push(code) } };
}

describe('exitOnFatalErrors', () => {
  it('logs an uncaught exception as one fatal JSON line with its stack, then exits 1', () => {
    const out = new LogLines();
    const { events, exits, source } = fakeProcess();
    exitOnFatalErrors(createLogger('keys', { destination: out }), source);

    events.emit('uncaughtException', new Error('socket hang up'));

    expect(out.records()).toEqual([
      expect.objectContaining({ level: 60, name: 'keys', kind: 'uncaught exception', msg: 'uncaught exception: socket hang up', err: expect.objectContaining({ type: 'Error', message: 'socket hang up', stack: expect.stringContaining('socket hang up') }) }),
    ]);
    expect(exits).toEqual([1]);
  });

  it('logs an unhandled rejection, whatever it was rejected with, then exits 1', () => {
    const out = new LogLines();
    const { events, exits, source } = fakeProcess();
    exitOnFatalErrors(createLogger('auth', { destination: out }), source);

    events.emit('unhandledRejection', 'not an Error');

    expect(out.records()).toEqual([expect.objectContaining({ level: 60, kind: 'unhandled rejection', msg: 'unhandled rejection: not an Error' })]);
    expect(exits).toEqual([1]);
  });

  it('writes the line even at LOG_LEVEL=silent', () => {
    const out = new LogLines();
    const { events, exits, source } = fakeProcess();
    exitOnFatalErrors(createLogger('metering', { destination: out, level: 'silent' }), source);

    events.emit('uncaughtException', new Error('boom'));

    expect(out.records().map((record) => record.msg)).toEqual(['uncaught exception: boom']);
    expect(exits).toEqual([1]);
  });
});
