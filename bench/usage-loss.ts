import { DiscardPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { DecideRequest, UsageBatch } from '@keyplane/contracts';
import { generateKey, hashKey } from '@keyplane/key-format';
import { encodeJson, RequestMux } from '@keyplane/nats';
import { IsolatedRun, natsUrl, runScript } from './isolated-run.js';

// What auth loses of its usage events when it is killed under load: decisions answered minus
// usage events on the stream, for SIGKILL at two loads and for SIGTERM, and for SIGKILL while
// the usage stream refuses writes (full), where auth holds what it decided since in memory.
// Run with
//   npm run build && node --import ./tools/register-paths.js dist/bench/usage-loss.js
// USAGE_LOSS_SECONDS (default 5) sets how long each load runs before the kill (in the outage
// trial, half of it before the stream refuses writes and half after).

const seconds = Number(process.env.USAGE_LOSS_SECONDS ?? 5);
const bench = new IsolatedRun('loss');
const { ns } = bench;
const admin = generateKey({ environment: 'live' }).key;
const AUTH_PORT = 19182;

interface Trial {
  signal: 'SIGKILL' | 'SIGTERM';
  concurrency: number;
}

/** The usage events on the stream: every event of every `UsageBatch` message. */
async function storedEvents(nc: NatsConnection): Promise<number> {
  const { state } = await (await jetstreamManager(nc)).streams.info(ns.streams.usageEvents);
  if (state.messages === 0) return 0;
  const messages = await (await jetstream(nc).consumers.get(ns.streams.usageEvents)).consume();
  let events = 0;
  for await (const message of messages) {
    events += message.json<UsageBatch>().events.length;
    if (message.seq >= state.last_seq) break;
  }
  await messages.close();
  return events;
}

/** Keeps `concurrency` decisions in flight until `stop()`, counting the ones answered. */
function load(mux: RequestMux, concurrency: number) {
  let answered = 0;
  let running = true;
  const keyHash = hashKey(admin);
  const worker = async (id: number) => {
    for (let n = 0; running; n++) {
      const request: DecideRequest = {
        keyHash, permission: 'FLOWS:READ', method: 'GET', path: '/v1/flows', clientIp: '127.0.0.1', userAgent: 'usage-loss', requestId: `req-${id}-${n}`,
      };
      try {
        const reply = (await mux.request(ns.subjects.auth.decide, encodeJson({ pattern: ns.subjects.auth.decide, data: request, id: `${id}-${n}` }), { timeoutMs: 2000 })).json<{ response?: { ok?: boolean } }>();
        if (reply.response?.ok) answered++;
      } catch {
        return;
      }
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id)));
  return {
    stop: async () => {
      running = false;
      await workers;
      return answered;
    },
  };
}

async function trial(nc: NatsConnection, mux: RequestMux, { signal, concurrency }: Trial): Promise<string> {
  const auth = await bench.start('auth', 'dist/apps/auth/src/main.js', { readyPort: AUTH_PORT, env: { HTTP_PORT: String(AUTH_PORT) } });
  const before = await storedEvents(nc);
  const traffic = load(mux, concurrency);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  auth.child.kill(signal);
  const answered = await traffic.stop();
  await auth.exited;
  // The stream has stored everything auth got out before it died.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stored = (await storedEvents(nc)) - before;
  const lost = answered - stored;
  const rate = answered / seconds;
  return `| ${signal} | ${concurrency} | ${answered} | ${stored} | ${lost} | ${((lost / rate) * 1000).toFixed(1)} |`;
}

/** Makes the usage stream refuse writes (full, discarding new); returns how to restore it. */
async function refuseUsageWrites(nc: NatsConnection): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(ns.streams.usageEvents);
  const original = { max_msgs: info.config.max_msgs, discard: info.config.discard };
  await jsm.streams.update(ns.streams.usageEvents, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
  return async () => {
    const now = await jsm.streams.info(ns.streams.usageEvents);
    await jsm.streams.update(ns.streams.usageEvents, { ...now.config, ...original });
  };
}

async function authMetric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${AUTH_PORT}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:{[^}]*})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/**
 * SIGKILL while the usage stream refuses writes: load, then the outage under the same load, then
 * the load stops and auth is killed holding what it could not publish (the queue, at most
 * USAGE_QUEUE_CAPACITY) after dropping the rest; the stream is restored and counted.
 */
async function outageTrial(nc: NatsConnection, mux: RequestMux, concurrency: number): Promise<string> {
  const auth = await bench.start('auth', 'dist/apps/auth/src/main.js', { readyPort: AUTH_PORT, env: { HTTP_PORT: String(AUTH_PORT) } });
  const before = await storedEvents(nc);
  const traffic = load(mux, concurrency);
  await new Promise((resolve) => setTimeout(resolve, (seconds / 2) * 1000));
  const restore = await refuseUsageWrites(nc);
  await new Promise((resolve) => setTimeout(resolve, (seconds / 2) * 1000));
  const answered = await traffic.stop();
  const held = await authMetric('auth_usage_events_pending');
  const dropped = await authMetric('auth_usage_events_dropped_total');
  auth.child.kill('SIGKILL');
  await auth.exited;
  await restore();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stored = (await storedEvents(nc)) - before;
  return `| SIGKILL | ${concurrency} | ${answered} | ${stored} | ${held} | ${dropped} | ${answered - stored} |`;
}

async function main() {
  const nc = await connect({ servers: natsUrl });
  try {
    await bench.start('keys', 'dist/apps/keys/src/main.js', { readyPort: 19181, env: { HTTP_PORT: '19181', BOOTSTRAP_ADMIN_KEY: admin } });
    const mux = new RequestMux(nc);
    const rows = [];
    for (const spec of [
      { signal: 'SIGKILL', concurrency: 8 },
      { signal: 'SIGKILL', concurrency: 64 },
      { signal: 'SIGTERM', concurrency: 64 },
    ] as Trial[]) {
      rows.push(await trial(nc, mux, spec));
    }
    const outage = await outageTrial(nc, mux, 64);
    mux.close();
    console.log(
      [
        `Run ${new Date().toISOString()}, ${seconds} s of load before each signal, node ${process.version}.`,
        '',
        '| signal | decisions in flight | answered | usage events stored | lost | lost, in ms of decisions |',
        '|---|---|---|---|---|---|',
        ...rows,
        '',
        `While the usage stream refuses writes (the last ${seconds / 2} s of load), then the load stops and auth is killed:`,
        '',
        '| signal | decisions in flight | answered | usage events stored | held at the kill | dropped before it | lost |',
        '|---|---|---|---|---|---|---|',
        outage,
      ].join('\n'),
    );
  } finally {
    await nc.close();
    await bench.close();
  }
}

runScript(main);
