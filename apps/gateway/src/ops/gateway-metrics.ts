import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What an operator watches at the edge: traffic by route and status, and how long auth takes to decide. */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'status'>;
  readonly decisionSeconds: Histogram<'outcome'>;
  readonly rejectedLocally: Counter<'reason'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly lastUsedUnavailable: Counter;
  readonly connectionsDropped: Counter;
  readonly stalledReadersClosed: Counter;
  private countWaiting: () => number = () => 0;
  private countConnections: () => Promise<number> = async () => 0;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered, by route-table route (or unmatched/static) and HTTP status',
      labelNames: ['route', 'status'],
      registers: [registry],
    });
    this.decisionSeconds = new Histogram({
      name: 'gateway_auth_decision_seconds',
      help: 'Latency of auth.decide requests as the gateway sees them, by outcome',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
    // The fail-closed outcomes, present from the start like the failure counters below.
    for (const outcome of ['error', 'invalid']) this.decisionSeconds.zero({ outcome });
    this.rejectedLocally = new Counter({
      name: 'gateway_rejected_locally_total',
      help: 'Requests answered 401 without asking auth: no credential, a credential in the query, or a malformed key',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.upstreamErrors = new Counter({
      name: 'gateway_upstream_errors_total',
      help: 'Proxied requests the upstream did not answer',
      labelNames: ['kind'],
      registers: [registry],
    });
    // Present at 0 from the start, so the first failures after a restart show in increase() and rate().
    for (const kind of ['unavailable', 'timeout']) this.upstreamErrors.inc({ kind }, 0);
    this.lastUsedUnavailable = new Counter({
      name: 'gateway_last_used_unavailable_total',
      help: 'Key management answers sent with lastUsedAt left null because metering did not answer in time',
      registers: [registry],
    });
    this.connectionsDropped = new Counter({
      name: 'gateway_connections_dropped_total',
      help: 'Client connections closed unanswered as they were accepted, the public port holding CLIENT_MAX_CONNECTIONS',
      registers: [registry],
    });
    this.stalledReadersClosed = new Counter({
      name: 'gateway_stalled_readers_closed_total',
      help: 'Client connections closed mid-answer because the client took no byte of it for CLIENT_SEND_TIMEOUT_MS',
      registers: [registry],
    });
    const connections = () => this.countConnections();
    new Gauge({
      name: 'gateway_open_connections',
      help: 'Client connections open on the public port, idle keep-alive ones included: what CLIENT_MAX_CONNECTIONS would cap',
      registers: [registry],
      async collect() {
        this.set(await connections());
      },
    });
    const waiting = () => this.countWaiting();
    new Gauge({
      name: 'gateway_service_requests_waiting',
      help: 'Requests to auth, keys and metering sent over NATS and awaiting their reply',
      registers: [registry],
      collect() {
        this.set(waiting());
      },
    });
  }

  /** An answer Node or Fastify's router gave before any route ran: there is no route template to name. */
  readonly countUnrouted = (status: number): void => {
    this.requests.inc({ route: 'unrouted', status });
  };

  /** The public listener, once built, says how many connections it holds. */
  countOpenConnections(count: () => Promise<number>): void {
    this.countConnections = count;
  }

  /** The NATS client, once built, says how many of its requests await a reply. */
  countWaitingRequests(count: () => number): void {
    this.countWaiting = count;
  }
}
