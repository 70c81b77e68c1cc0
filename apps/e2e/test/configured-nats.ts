import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@keyplane/testing';

/** The NATS users of `infra/nats/nats.conf`, one per service. */
export type NatsUser = 'keys' | 'auth' | 'metering' | 'gateway';
const USERS: NatsUser[] = ['keys', 'auth', 'metering', 'gateway'];

const CONFIG = fileURLToPath(new URL('../../../infra/nats/nats.conf', import.meta.url));
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface ConfiguredNats {
  /** A NATS URL that logs in as this service's user. */
  urlFor(user: NatsUser): string;
  /** Every user's password, to look for in logs. */
  passwords: string[];
  stop(): Promise<void>;
}

/**
 * A nats-server of this test's own, run with the production `infra/nats/nats.conf` as it is
 * shipped (its users, permissions and JetStream), on free ports and a scratch store: the ports
 * are set on the command line, the store directory (which the command line may not set twice)
 * in a copy of the file.
 */
export async function startConfiguredNats(): Promise<ConfiguredNats> {
  const store = await mkdtemp(join(tmpdir(), 'keyplane-nats-'));
  const config = join(store, 'nats.conf');
  const shipped = await readFile(CONFIG, 'utf8');
  if (!/^\s*store_dir:.*$/m.test(shipped)) throw new Error(`${CONFIG} has no store_dir line to point at a scratch directory`);
  await writeFile(config, shipped.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(join(store, 'jetstream'))}`));
  const port = await freePort();
  const monitorPort = await freePort();
  // As docs/operations.md says to make them: a letter first, or nats-server may read the value as a number and stop.
  const passwords = Object.fromEntries(USERS.map((user) => [user, `k${randomBytes(12).toString('hex')}`])) as Record<NatsUser, string>;
  const env = { ...process.env, ...Object.fromEntries(USERS.map((user) => [`${user.toUpperCase()}_NATS_PASSWORD`, passwords[user]])) };
  const child: ChildProcess = spawn(NATS_SERVER, ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor('the configured nats-server to listen', async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${output}`);
      return output.includes('Server is ready') || undefined;
    });
  } catch (error) {
    child.kill('SIGKILL');
    await rm(store, { recursive: true, force: true });
    throw error;
  }
  return {
    urlFor: (user) => `nats://${user}:${passwords[user]}@127.0.0.1:${port}`,
    passwords: Object.values(passwords),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(store, { recursive: true, force: true });
    },
  };
}
