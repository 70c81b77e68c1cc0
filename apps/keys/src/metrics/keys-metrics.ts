import { Counter, Gauge, type Registry } from 'prom-client';
import { orAfter } from '@keyplane/runtime';

/** How long a scrape waits for the relay lag; as long as a readiness check waits for Postgres. */
const RELAY_LAG_TIMEOUT_MS = 1000;

/** Outcome label: `ok`, or the status of the error reply. */
export type ResultLabel = 'ok' | `${number}`;

export class KeysMetrics {
  private readonly commands: Counter<'command' | 'result'>;
  private readonly queries: Counter<'query' | 'result'>;

  /** `relayLag` reads the newest stored global position minus the newest one on the stream. */
  constructor(registry: Registry, relayLag: () => Promise<number>) {
    this.commands = new Counter({
      name: 'keys_commands_total',
      help: 'Key commands handled, by command and result',
      labelNames: ['command', 'result'],
      registers: [registry],
    });
    this.queries = new Counter({
      name: 'keys_queries_total',
      help: 'Key queries handled, by query and result',
      labelNames: ['query', 'result'],
      registers: [registry],
    });
    new Gauge({
      name: 'keys_outbox_relay_lag',
      help: 'Global positions stored in the event store but not yet published to the key event stream',
      registers: [registry],
      // Postgres away or not answering: NaN, "unknown", rather than a failed or hung scrape
      // that would hide every other series too.
      async collect() {
        this.set(await orAfter(relayLag(), RELAY_LAG_TIMEOUT_MS, NaN).catch(() => NaN));
      },
    });
  }

  command(command: string, result: ResultLabel): void {
    this.commands.inc({ command, result });
  }

  query(query: string, result: ResultLabel): void {
    this.queries.inc({ query, result });
  }
}
