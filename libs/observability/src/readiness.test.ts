import { Readiness } from './readiness.js';

describe('Readiness.report', () => {
  it('is ready with no checks', async () => {
    expect(await new Readiness().report()).toEqual({ ready: true, checks: {} });
  });

  it('is ready when every check passes, sync or async', async () => {
    const readiness = new Readiness();
    readiness.add('nats', () => true);
    readiness.add('database', async () => true);

    expect(await readiness.report()).toEqual({ ready: true, checks: { nats: true, database: true } });
  });

  it('is not ready when one check fails, and names it', async () => {
    const readiness = new Readiness();
    readiness.add('nats', () => true);
    readiness.add('caught-up', async () => false);

    expect(await readiness.report()).toEqual({ ready: false, checks: { nats: true, 'caught-up': false } });
  });

  it('counts a check that rejects as not ready', async () => {
    const readiness = new Readiness();
    readiness.add('nats', () => true);
    readiness.add('database', () => Promise.reject(new Error('connection refused')));

    expect(await readiness.report()).toEqual({ ready: false, checks: { nats: true, database: false } });
  });

  it('counts a check that throws synchronously as not ready', async () => {
    const readiness = new Readiness();
    readiness.add('database', () => {
      throw new Error('pool destroyed');
    });

    expect(await readiness.report()).toEqual({ ready: false, checks: { database: false } });
  });

  it('replaces a check added again under the same name', async () => {
    const readiness = new Readiness();
    readiness.add('nats', () => false);
    readiness.add('nats', () => true);

    expect(await readiness.report()).toEqual({ ready: true, checks: { nats: true } });
  });
});
