import { freePort } from '@keyplane/testing';
import { checkReachable, stackDependencies } from './preflight.js';

describe('stackDependencies', () => {
  it('looks at the defaults, or at DATABASE_URL and NATS_URL', () => {
    expect(stackDependencies({}).map(({ name, url }) => [name, url])).toEqual([
      ['PostgreSQL', 'postgres://postgres@127.0.0.1:5432/keyplane'],
      ['NATS (with JetStream)', 'nats://127.0.0.1:4222'],
    ]);
    expect(stackDependencies({ DATABASE_URL: 'postgres://db:6543/k', NATS_URL: 'nats://nats:4333' }).map(({ url }) => url)).toEqual([
      'postgres://db:6543/k',
      'nats://nats:4333',
    ]);
  });
});

describe('checkReachable', () => {
  it('passes what answers: the Postgres and NATS the tests run against', async () => {
    for (const dependency of stackDependencies({})) expect(await checkReachable(dependency)).toBeNull();
  });

  it('names what is unreachable, where it looked, and how to start it', async () => {
    const port = await freePort();
    const [postgres, nats] = stackDependencies({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/keyplane`, NATS_URL: `nats://127.0.0.1:${port}` });
    expect(await checkReachable(postgres)).toBe(
      `PostgreSQL is not reachable at 127.0.0.1:${port}. Start it with:\n    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start   (or set DATABASE_URL)`,
    );
    expect(await checkReachable(nats)).toBe(
      `NATS (with JetStream) is not reachable at 127.0.0.1:${port}. Start it with:\n` +
        '    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log   (or set NATS_URL)',
    );
  });
});
