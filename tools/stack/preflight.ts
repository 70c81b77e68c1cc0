import { connect } from 'node:net';
import { DEFAULT_DATABASE_URL, DEFAULT_NATS_URL, EnvReader } from '@keyplane/runtime';

export interface Dependency {
  name: string;
  url: string;
  howToStart: string;
}

/** Read as the services read them: empty is the default, and a malformed URL is named, never shown (it may hold a password). */
export function stackDependencies(env: NodeJS.ProcessEnv): Dependency[] {
  const read = new EnvReader(env);
  return [
    {
      name: 'PostgreSQL',
      url: read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
      howToStart: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start   (or set DATABASE_URL)',
    },
    {
      name: 'NATS (with JetStream)',
      url: read.url('NATS_URL', DEFAULT_NATS_URL, ['nats:', 'tls:']),
      howToStart:
        'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log   (or set NATS_URL)',
    },
  ];
}

/** Resolves to an error message naming what is unreachable, where we looked, and how to start it. */
export async function checkReachable(dependency: Dependency): Promise<string | null> {
  const url = new URL(dependency.url);
  const port = Number(url.port || (url.protocol.startsWith('postgres') ? 5432 : 4222));
  const host = url.hostname || '127.0.0.1';
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
  if (reachable) return null;
  return `${dependency.name} is not reachable at ${host}:${port}. Start it with:\n    ${dependency.howToStart}`;
}
