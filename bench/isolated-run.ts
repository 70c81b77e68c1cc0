import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { namespace, type Namespace } from '@keyplane/contracts';
import { dropDatabase } from '@keyplane/database';
import { deleteStreams } from '@keyplane/nats';
import { startProcess, stopAll, waitReady, type Running } from '../tools/stack/process-group.js';

export const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export interface StartOptions {
  /** Port of /readyz to wait for; 0 for a process without one (given a second instead). */
  readyPort: number;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/**
 * A benchmark's own database and NATS namespace, the service processes it starts on them, and
 * the clean-up of all three, so runs never see each other's state.
 */
export class IsolatedRun {
  readonly prefix: string;
  readonly ns: Namespace;
  readonly databaseUrl: string;
  private readonly running: Running[] = [];

  constructor(private readonly label: string) {
    const run = randomBytes(4).toString('hex');
    this.prefix = `${label}${run}`;
    this.ns = namespace(this.prefix);
    this.databaseUrl = `postgres://postgres@127.0.0.1:5432/kp_${label}_${run}`;
  }

  get processes(): readonly Running[] {
    return this.running;
  }

  /** Starts `main` as a process on this run's database and namespace, and waits until it is ready. */
  async start(name: string, main: string, { readyPort, env = {}, nodeArgs = [] }: StartOptions): Promise<Running> {
    const common = { NATS_URL: natsUrl, NATS_PREFIX: this.prefix, DATABASE_URL: this.databaseUrl, LOG_LEVEL: 'warn' };
    const service = startProcess({ name, main, readyPort, env: { ...common, ...env }, nodeArgs }, `logs/${this.label}`, () => undefined);
    this.running.push(service);
    if (readyPort === 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    else await waitReady(service, 60_000);
    return service;
  }

  async close(): Promise<void> {
    await stopAll(this.running);
    await dropDatabase(this.databaseUrl).catch(() => undefined);
    const nc = await connect({ servers: natsUrl });
    await deleteStreams(nc, Object.values(this.ns.streams));
    await nc.close();
  }
}

/** Runs a benchmark script to the end and exits, with status 1 and the error if it failed. */
export function runScript(main: () => Promise<void>): void {
  void main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
