import { writeFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { ulid } from 'ulid';
import type { UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { DURABLE_NAME } from '../apps/metering/src/ingest/usage-consumer.js';
import { generateKey } from '@keyplane/key-format';
import { sampleUsage, usagePerRequest, type UsagePerRequest } from './cpu.js';
import { bucketsBetween, counterTotal, histogramBuckets, quantile } from './metrics-text.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { IsolatedRun, natsUrl, runScript } from './isolated-run.js';
import { pacedRequestsSent, runPacedLoadApart } from './paced-load.js';
import { pairedRatios, type PairedRatios } from './paired-rounds.js';
import { median } from './query-plans.js';
import { DEMO_TENANT_HEADERS } from './demo-tenant.js';

// `npm run bench`: the gateway against its ceiling, side by side in one run on this machine,
// then metering's ingest rate and lag. Figures go to stdout and bench/results.md.
// BENCH_CPU_PROFILE_DIR=<dir> writes a CPU profile of every service there; BENCH_ROUNDS (3)
// sets the alternating rounds of (b), (c), (d′), (g) and (d) that give the side-by-side ratios.

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Twice auth's lease warm-up (16 requests of a key on a replica), so every key is leasing when (b) starts. */
const WARM_UP_REQUESTS_PER_KEY = 32;
const roundSeconds = Math.max(2, Math.round(seconds / 2));
const bench = new IsolatedRun('bench');
const { prefix, ns, databaseUrl } = bench;
const admin = generateKey({ environment: 'live' }).key;
const ports = { gateway: 18080, gatewayMetrics: 19080, keys: 19081, auth: 19082, metering: 19083, demo: 18090, ceiling: 18099, tunedCeiling: 18098, bareProxy: 18097 };

/** The one table the benchmark reads: how many usage events metering has stored. */
interface MeteringTables {
  'metering.usage_events': { event_id: string };
}

async function start(name: string, main: string, readyPort: number, env: Record<string, string>) {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  // One folder per service: the resolve hook runs in a thread of its own that writes a profile too.
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : [];
  await bench.start(name, main, { readyPort, env, nodeArgs });
}

async function createKeys(count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${ports.gateway}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench ${i}`, permissions: ['FLOWS:READ'], rateLimits: { hour: 1_000_000_000, day: 1_000_000_000 } }),
    });
    if (response.status !== 201) throw new Error(`creating a bench key failed: ${response.status} ${await response.text()}`);
    keys.push(((await response.json()) as { key: string }).key);
  }
  return keys;
}

async function storedUsageEvents(db: Kysely<MeteringTables>): Promise<number> {
  const row = await db.selectFrom('metering.usage_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function meteringIngest(total: number) {
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const db = createKysely<MeteringTables>({ url: databaseUrl, max: 2 });
  const before = await storedUsageEvents(db);
  const started = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const event: UsageRecorded = {
      type: 'UsageRecorded', version: 1, eventId: ulid(), occurredAt: new Date().toISOString(), keyId: `key_${ulid()}`,
      accountId: 'acc_bench', environment: 'live', outcome: 'allowed', reason: 'ok', permission: 'FLOWS:READ', method: 'GET',
      path: '/v1/flows', clientIp: '127.0.0.1', userAgent: 'bench', requestId: ulid(), hourUsed: 1, dayUsed: 1, hourLimit: 1000, dayLimit: 10000,
    };
    pending.push(js.publish(ns.subjects.usageEvents, JSON.stringify(event), { msgID: event.eventId }));
    if (pending.length >= 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const published = Date.now();
  while ((await storedUsageEvents(db)) - before < total && Date.now() - started < 300_000) await new Promise((r) => setTimeout(r, 50));
  const done = Date.now();
  await db.destroy();
  await nc.close();
  return { total, publishSeconds: (published - started) / 1000, ingestPerSecond: Math.round(total / ((done - started) / 1000)) };
}

/**
 * Waits until metering has stored every usage message on the stream (it acks a message only
 * after its events are committed); resolves with how long that took.
 */
async function meteringCaughtUp(): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const started = Date.now();
  for (;;) {
    const lastSeq = (await jsm.streams.info(ns.streams.usageEvents)).state.last_seq;
    const consumer = await jsm.consumers.info(ns.streams.usageEvents, DURABLE_NAME);
    if (consumer.ack_floor.stream_seq >= lastSeq || Date.now() - started > 60_000) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await nc.close();
  return Date.now() - started;
}

/** A scenario's ratio to (d) in each round, or to another scenario of the same round (`over`), and their median. */
function pairedList(paired: PairedRatios, name: string, over?: string): string {
  const each = paired.rounds.map((ratios) => ratios[name] / (over === undefined ? 1 : ratios[over]));
  return `${each.map((ratio) => ratio.toFixed(2)).join(', ')} (median ${median(each).toFixed(2)})`;
}

const cpuTotal = (usage: Record<string, UsagePerRequest>) => Object.values(usage).reduce((sum, { cpuUs }) => sum + cpuUs, 0);

function usageList(usage: Record<string, UsagePerRequest>): string {
  const each = Object.entries(usage).map(([name, { cpuUs, writes, reads }]) => `${name} ${cpuUs} / ${writes.toFixed(2)} / ${reads.toFixed(2)}`);
  const writes = Object.values(usage).reduce((sum, usage) => sum + usage.writes, 0);
  return `${each.join(', ')} (total ${cpuTotal(usage)} µs and ${writes.toFixed(1)} writes; 2 cores give 2,000,000 µs/s)`;
}

/** The ceiling's CPU per request over the stack's: the throughput ratio the two cores would give if nothing but CPU bound them. */
const cpuRatio = (ceiling: Record<string, UsagePerRequest>, stack: Record<string, UsagePerRequest>) => (cpuTotal(ceiling) / Math.max(1, cpuTotal(stack))).toFixed(2);

function table(results: LoadResult[]): string {
  const rows = results.map((r) => `| ${r.name} | ${r.requestsPerSecond} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} |`);
  return ['| scenario | req/s | p50 ms | p99 ms | non-2xx | errors |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

async function main() {
  try {
    await start('keys', 'dist/apps/keys/src/main.js', ports.keys, { HTTP_PORT: String(ports.keys), BOOTSTRAP_ADMIN_KEY: admin });
    await start('auth', 'dist/apps/auth/src/main.js', ports.auth, { HTTP_PORT: String(ports.auth) });
    await start('metering', 'dist/apps/metering/src/main.js', ports.metering, { HTTP_PORT: String(ports.metering) });
    await start('demo-api', 'dist/apps/demo-api/src/main.js', ports.demo, { PORT: String(ports.demo) });
    await start('gateway', 'dist/apps/gateway/src/main.js', ports.gateway, {
      PORT: String(ports.gateway), METRICS_PORT: String(ports.gatewayMetrics), UPSTREAM_URL: `http://127.0.0.1:${ports.demo}`,
    });
    await start('ceiling-responder', 'dist/bench/ceiling/responder.js', 0, { SUBJECT: `${prefix}.bench.decide` });
    await start('ceiling-server', 'dist/bench/ceiling/http-nats-server.js', ports.ceiling, { SUBJECT: `${prefix}.bench.decide`, PORT: String(ports.ceiling) });
    await start('ceiling-tuned-responder', 'dist/bench/ceiling/responder.js', 0, { SUBJECT: `${prefix}.bench.tuned`, TUNED: '1' });
    await start('ceiling-tuned-server', 'dist/bench/ceiling/http-nats-server.js', ports.tunedCeiling, { SUBJECT: `${prefix}.bench.tuned`, PORT: String(ports.tunedCeiling), TUNED: '1' });
    await start('bare-proxy', 'dist/bench/ceiling/http-nats-server.js', ports.bareProxy, {
      SUBJECT: `${prefix}.bench.tuned`, PORT: String(ports.bareProxy), TUNED: '1', UPSTREAM_URL: `http://127.0.0.1:${ports.demo}/v1/flows`, UPSTREAM_HEADERS: JSON.stringify(DEMO_TENANT_HEADERS),
    });

    const keys = await createKeys(100);
    const gatewayUrl = `http://127.0.0.1:${ports.gateway}/v1/flows`;
    const tunedCeilingUrl = `http://127.0.0.1:${ports.tunedCeiling}/`;
    const bareProxyUrl = `http://127.0.0.1:${ports.bareProxy}/`;
    const warm = { durationSeconds: 2, connections };
    // Counted, not timed: on a slow day 2 s left many keys short of auth's 16-request lease
    // warm-up, and (b) then measured keys being counted in Postgres one request at a time.
    await runLoad({ name: 'warm-up', url: gatewayUrl, keys, ...warm, amount: keys.length * WARM_UP_REQUESTS_PER_KEY });
    await runLoad({ name: 'warm-up', url: `http://127.0.0.1:${ports.ceiling}/`, ...warm });
    await runLoad({ name: 'warm-up', url: tunedCeilingUrl, ...warm });
    await runLoad({ name: 'warm-up', url: bareProxyUrl, ...warm });

    const a = await runLoad({ name: '(a) demo-api direct', url: `http://127.0.0.1:${ports.demo}/v1/flows`, headers: DEMO_TENANT_HEADERS, durationSeconds: seconds, connections });
    const services = [...bench.processes.map((service) => ({ name: service.spec.name, pid: service.child.pid ?? 0 })), { name: 'load generator', pid: process.pid }];
    const authMetrics = async () => (await fetch(`http://127.0.0.1:${ports.auth}/metrics`)).text();
    const authCounters = async () => {
      const text = await authMetrics();
      const total = (name: string) => counterTotal(text, name);
      return { quotaCalls: total('auth_quota_store_calls_total'), events: total('auth_usage_events_published_total'), messages: total('auth_usage_messages_published_total') };
    };
    /**
     * Runs one load and measures what every process spent on it and auth's round trips to the
     * quota store, per request, and how many usage events auth put in one stream message.
     */
    const measured = async (options: LoadOptions) => {
      const before = sampleUsage(services);
      const countersBefore = await authCounters();
      const result = await runLoad(options);
      const requests = result.requestsPerSecond * options.durationSeconds;
      const usage = usagePerRequest(before, sampleUsage(services), requests);
      const counters = await authCounters();
      const quotaCalls = (counters.quotaCalls - countersBefore.quotaCalls) / Math.max(1, requests);
      const eventsPerMessage = (counters.events - countersBefore.events) / Math.max(1, counters.messages - countersBefore.messages);
      return { result, usage, quotaCalls, eventsPerMessage };
    };
    const { result: b, usage: usageOfB, quotaCalls: quotaCallsOfB, eventsPerMessage: eventsPerMessageOfB } = await measured({ name: '(b) gateway, 100 keys', url: gatewayUrl, keys, durationSeconds: seconds, connections });
    // Metering runs on other nodes in production; paused here, the usage events wait on the
    // stream (it catches up afterwards) and the serving path has the 2 cores to itself.
    const metering = bench.processes.find((service) => service.spec.name === 'metering')!.child;
    metering.kill('SIGSTOP');
    const bServing = await runLoad({ name: '(b′) as (b), metering paused', url: gatewayUrl, keys, durationSeconds: seconds, connections });
    metering.kill('SIGCONT');
    // The backlog (b′) left on the stream is drained before (c), so (c) does not pay for it.
    const backlogMs = await meteringCaughtUp();
    const { result: c, usage: usageOfC, quotaCalls: quotaCallsOfC, eventsPerMessage: eventsPerMessageOfC } = await measured({ name: '(c) gateway, one hot key', url: gatewayUrl, keys: [keys[0]], durationSeconds: seconds, connections });
    const { result: d, usage: usageOfD } = await measured({ name: '(d) ceiling: HTTP + one NATS request', url: `http://127.0.0.1:${ports.ceiling}/`, durationSeconds: seconds, connections });
    const { result: dTuned, usage: usageOfDTuned } = await measured({ name: '(d′) as (d), NATS client tuned as the stack', url: tunedCeilingUrl, durationSeconds: seconds, connections });
    // The most this gateway could serve: nothing but the NATS round trip and the upstream hop.
    const { result: g, usage: usageOfG } = await measured({ name: '(g) bare proxy: (d′), then the demo API through undici', url: bareProxyUrl, durationSeconds: seconds, connections });
    const paired = await pairedRatios(
      rounds,
      { name: '(d)', url: `http://127.0.0.1:${ports.ceiling}/`, durationSeconds: roundSeconds, connections },
      [
        { name: '(b)', url: gatewayUrl, keys, durationSeconds: roundSeconds, connections },
        { name: '(c)', url: gatewayUrl, keys: [keys[0]], durationSeconds: roundSeconds, connections },
        { name: '(d′)', url: tunedCeilingUrl, durationSeconds: roundSeconds, connections },
        { name: '(g)', url: bareProxyUrl, durationSeconds: roundSeconds, connections },
      ],
    );
    // The handler's histogram cannot tell a paced run's uncounted first second apart: it is in.
    const handlerBuckets = async () => histogramBuckets(await authMetrics(), 'auth_decide_duration_seconds');
    const handlerBefore = await handlerBuckets();
    const e = await runPacedLoadApart({ name: '(e) gateway, 100 keys, an even 2,000 req/s', url: gatewayUrl, keys, durationSeconds: seconds, rate: 2000 });

    const handlerInE = bucketsBetween(handlerBefore, await handlerBuckets());
    // Right after (e): later scenarios would give metering time to catch up unseen.
    const lagMs = await meteringCaughtUp();
    // CPU too: here a process that waits between requests is charged more for each (bench/cpu-by-rate.ts).
    const beforeF = sampleUsage(services);
    const fOptions = { name: '(f) gateway, 100 keys, an even 500 req/s', url: gatewayUrl, keys, durationSeconds: seconds, rate: 500 };
    const f = await runPacedLoadApart(fOptions);
    const usageOfF = usagePerRequest(beforeF, sampleUsage(services), pacedRequestsSent(fOptions));
    const handlerInF = bucketsBetween(handlerBefore, await handlerBuckets()).map((bucket, i) => ({ le: bucket.le, count: bucket.count - handlerInE[i].count }));
    // The same even rate on the bare design: the tail this machine gives any NATS round trip.
    const eCeiling = await runPacedLoadApart({ name: '(e′) ceiling, an even 2,000 req/s', url: `http://127.0.0.1:${ports.ceiling}/`, durationSeconds: seconds, rate: 2000 });
    // And on the bare design with the stack's NATS tuning, which has the most room at this rate.
    const eTuned = await runPacedLoadApart({ name: '(e‴) ceiling tuned as the stack, an even 2,000 req/s', url: tunedCeilingUrl, durationSeconds: seconds, rate: 2000 });
    // And on no design at all: the floor this machine and this load generator set for any p99.
    const eDirect = await runPacedLoadApart({ name: '(e″) demo-api direct, an even 2,000 req/s', url: `http://127.0.0.1:${ports.demo}/v1/flows`, headers: DEMO_TENANT_HEADERS, durationSeconds: seconds, rate: 2000 });
    const ingest = await meteringIngest(Number(process.env.BENCH_INGEST_EVENTS ?? 20000));

    const ratio = (x: LoadResult, y: LoadResult) => (x.requestsPerSecond / y.requestsPerSecond).toFixed(2);
    const ms = (s: number | null) => (s === null ? 'n/a' : `≤ ${(s * 1000).toFixed(2)} ms`);
    const report = [
      `Run ${new Date().toISOString()}, ${seconds} s per scenario, ${connections} connections, node ${process.version}.`,
      '',
      table([a, b, bServing, c, d, dTuned, g, e, f, eCeiling, eTuned, eDirect]),
      '',
      `- (b)/(a) = ${ratio(b, a)}, (b)/(d) = ${ratio(b, d)}, (b′)/(d) = ${ratio(bServing, d)}, (c)/(d) = ${ratio(c, d)}; against (d′): (b) ${ratio(b, dTuned)}, (c) ${ratio(c, dTuned)}, (g) ${ratio(g, dTuned)}; against (g): (b) ${ratio(b, g)}, (c) ${ratio(c, g)}`,
      `- side by side, ${rounds} rounds of ${roundSeconds} s alternating (b), (c), (d′), (g), (d): (b)/(d) ${pairedList(paired, '(b)')}; (c)/(d) ${pairedList(paired, '(c)')}; (b)/(d′) ${pairedList(paired, '(b)', '(d′)')}; (c)/(d′) ${pairedList(paired, '(c)', '(d′)')}; (g)/(d′) ${pairedList(paired, '(g)', '(d′)')}; (b)/(g) ${pairedList(paired, '(b)', '(g)')}`,
      `- p99 of (b) at an even 2,000 req/s: ${e.p99} ms (at the same rate, the ceiling's: ${eCeiling.p99} ms, the tuned ceiling's: ${eTuned.p99} ms, demo-api direct: ${eDirect.p99} ms); at an even 500 req/s: ${f.p99} ms`,
      `- per request in (b), CPU µs / write / read system calls: ${usageList(usageOfB)}`,
      `- per request in (c), the same: ${usageList(usageOfC)}`,
      `- per request in (d), the same: ${usageList(usageOfD)}`,
      `- per request in (d′), the same: ${usageList(usageOfDTuned)}`,
      `- per request in (g), the same: ${usageList(usageOfG)}`,
      `- per request in (f), at an even 500 req/s, the same (its load generator, a child process of the benchmark's, counted once it has exited): ${usageList(usageOfF)}`,
      `- the same ratios in CPU per request: (d)/(b) = ${cpuRatio(usageOfD, usageOfB)}, (d)/(c) = ${cpuRatio(usageOfD, usageOfC)}, (d′)/(b) = ${cpuRatio(usageOfDTuned, usageOfB)}, (d′)/(c) = ${cpuRatio(usageOfDTuned, usageOfC)}, (d′)/(g) = ${cpuRatio(usageOfDTuned, usageOfG)}, (g)/(b) = ${cpuRatio(usageOfG, usageOfB)}`,
      `- auth's round trips to the quota store (\`auth_quota_store_calls_total\`) per 1,000 requests: ${(quotaCallsOfB * 1000).toFixed(1)} in (b), ${(quotaCallsOfC * 1000).toFixed(1)} in (c)`,
      `- usage events per stream message (\`auth_usage_events_published_total\` / \`auth_usage_messages_published_total\`): ${eventsPerMessageOfB.toFixed(1)} in (b), ${eventsPerMessageOfC.toFixed(1)} in (c)`,
      `- auth.decide handler time from its histogram (bucket upper bounds): during (e) p50 ${ms(quantile(handlerInE, 0.5))}, p99 ${ms(quantile(handlerInE, 0.99))}; during (f) p50 ${ms(quantile(handlerInF, 0.5))}, p99 ${ms(quantile(handlerInF, 0.99))}`,
      `- metering ingest: ${ingest.total} usage events published in ${ingest.publishSeconds.toFixed(1)} s by one publisher, all folded into windows at ${ingest.ingestPerSecond} events/s end to end (bounded by that publisher)`,
      `- metering lag after the steady 2,000 req/s run: every decision visible in metering ${lagMs} ms after the load stopped; the backlog of (b′) took ${backlogMs} ms to drain`,
    ].join('\n');
    console.log(`\n${report}\n`);
    writeFileSync('bench/results.md', `${report}\n`);
  } finally {
    await bench.close();
  }
}

runScript(main);
