import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { DecideRequest, UsageBatch } from '@keyplane/contracts';
import { generateKey, hashKey } from '@keyplane/key-format';
import { encodeJson, RequestMux } from '@keyplane/nats';
import { IsolatedRun, natsUrl, runScript } from './isolated-run.js';

// What auth loses of its usage events when it is killed under load: decisions answered minus
// usage events on the stream, for SIGKILL at two loads and for SIGTERM, and for SIGKILL while
// the usage stream refuses writes, where auth spills what it decided since to Postgres
// and a replacement replica republishes it.
// Run with
//   npm run build && node --import ./tools/register-paths.js dist/bench/usage-loss.js
// USAGE_LOSS_SECONDS (default 5) sets how long each load runs before the kill (in the outage
// trial, half of it before the stream refuses writes and half after). USAGE_LOSS_TRIALS picks
// the trials, `kills` and/or `outage` (default both), e.g. USAGE_LOSS_TRIALS=outage.

const seconds = Number(process.env.USAGE_LOSS_SECONDS ?? 5);
const trials = new Set((process.env.USAGE_LOSS_TRIALS ?? 'kills,outage').split(','));
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

/**
 * Makes the usage stream refuse writes: its subject moved away, so a publish finds no stream;
 * returns how to restore it. Not by lowering max_msgs to what the stream holds (full, discarding
 * new): under load more are stored between reading the count and the update, and the update
 * then deletes that many of the oldest messages, events the count would blame on auth.
 */
async function refuseUsageWrites(nc: NatsConnection): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info(ns.streams.usageEvents);
  await jsm.streams.update(ns.streams.usageEvents, { ...config, subjects: [`${ns.subjects.usageEvents}-parked`] });
  return async () => {
    const now = await jsm.streams.info(ns.streams.usageEvents);
    await jsm.streams.update(ns.streams.usageEvents, { ...now.config, subjects: config.subjects });
  };
}

async function authMetric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${AUTH_PORT}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:{[^}]*})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Waits until the auth replica on AUTH_PORT has republished every spilled message (a build without the spill has none). */
async function drained(): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const waiting = await authMetric('auth_usage_spill_events');
    if (Number.isNaN(waiting) || waiting === 0) return;
    if (Date.now() > deadline) throw new Error(`${waiting} spilled usage events still waiting after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * SIGKILL while the usage stream refuses writes: load, then the outage under the same load, then
 * auth is killed, either while the load goes on or once it has stopped; the stream is restored,
 * a replacement replica republishes what the killed one spilled to Postgres, and the stream is
 * counted. What auth held in memory (neither published nor spilled) and had dropped is read just
 * before the kill.
 */
async function outageTrial(nc: NatsConnection, mux: RequestMux, concurrency: number, killUnderLoad: boolean): Promise<string> {
  const start = () => bench.start('auth', 'dist/apps/auth/src/main.js', { readyPort: AUTH_PORT, env: { HTTP_PORT: String(AUTH_PORT) } });
  const auth = await start();
  const before = await storedEvents(nc);
  const traffic = load(mux, concurrency);
  await new Promise((resolve) => setTimeout(resolve, (seconds / 2) * 1000));
  const restore = await refuseUsageWrites(nc);
  await new Promise((resolve) => setTimeout(resolve, (seconds / 2) * 1000));
  const stoppedFirst = killUnderLoad ? undefined : await traffic.stop();
  const held = await authMetric('auth_usage_events_pending');
  const spilled = await authMetric('auth_usage_events_spilled_total');
  const dropped = await authMetric('auth_usage_events_dropped_total');
  auth.child.kill('SIGKILL');
  await auth.exited;
  const answered = stoppedFirst ?? (await traffic.stop());
  await restore();
  // A replacement, as Kubernetes starts one: it republishes what the killed replica spilled.
  await start();
  await drained();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stored = (await storedEvents(nc)) - before;
  const lost = answered - stored;
  const shown = (n: number) => (Number.isNaN(n) ? '–' : String(n));
  return `| ${killUnderLoad ? 'under load' : 'after the load'} | ${concurrency} | ${answered} | ${stored} | ${held} | ${shown(spilled)} | ${dropped} | ${lost} | ${((lost / (answered / seconds)) * 1000).toFixed(1)} |`;
}

async function main() {
  const nc = await connect({ servers: natsUrl });
  try {
    await bench.start('keys', 'dist/apps/keys/src/main.js', { readyPort: 19181, env: { HTTP_PORT: '19181', BOOTSTRAP_ADMIN_KEY: admin } });
    const mux = new RequestMux(nc);
    const report = [`Run ${new Date().toISOString()}, ${seconds} s of load before each signal, node ${process.version}.`];
    if (trials.has('kills')) {
      const rows = [];
      for (const spec of [
        { signal: 'SIGKILL', concurrency: 8 },
        { signal: 'SIGKILL', concurrency: 64 },
        { signal: 'SIGTERM', concurrency: 64 },
      ] as Trial[]) {
        rows.push(await trial(nc, mux, spec));
      }
      report.push(
        '',
        '| signal | decisions in flight | answered | usage events stored | lost | lost, in ms of decisions |',
        '|---|---|---|---|---|---|',
        ...rows,
      );
    }
    if (trials.has('outage')) {
      const rows = [await outageTrial(nc, mux, 64, false), await outageTrial(nc, mux, 64, true)];
      report.push(
        '',
        `SIGKILL while the usage stream refuses writes (the last ${seconds / 2} s of load), once the load has stopped and under load:`,
        '',
        '| kill | decisions in flight | answered | usage events stored | in memory just before the kill | spilled to Postgres | dropped | lost | lost, in ms of decisions |',
        '|---|---|---|---|---|---|---|---|---|',
        ...rows,
      );
    }
    mux.close();
    console.log(report.join('\n'));
  } finally {
    await nc.close();
    await bench.close();
  }
}

runScript(main);
