import { isDatabaseFailure, isDataError } from './database-errors.js';

describe('isDataError', () => {
  it('is true only for data the database refuses', () => {
    expect(['22021', '22003', '23502', '54000'].map((code) => isDataError({ code }))).toEqual([true, true, true, true]);
  });

  it('is false for failures a retry may cure', () => {
    expect([{ code: '08006' }, { code: '40P01' }, { code: '57P01' }, { code: 'ECONNREFUSED' }, new Error('boom'), null].map(isDataError)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('isDatabaseFailure', () => {
  it('is true when Postgres, the socket or the driver failed the batch', () => {
    const failures = [
      { code: '57P01', message: 'terminating connection due to administrator command' },
      { code: '42P01', message: 'relation "usage_windows" does not exist' },
      { code: '22021' },
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', syscall: 'connect' }),
      Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ];
    expect(failures.map(isDatabaseFailure)).toEqual(failures.map(() => true));
  });

  it('is false for what metering\'s own code threw on the events', () => {
    const thrown = [Object.assign(new Error('Time must be positive: -3600000 (ENC_TIME_NEG)'), { name: 'ULIDError', code: 'ENC_TIME_NEG' }), new TypeError('x is undefined'), new RangeError('Invalid time value'), null];
    expect(thrown.map(isDatabaseFailure)).toEqual(thrown.map(() => false));
  });
});
