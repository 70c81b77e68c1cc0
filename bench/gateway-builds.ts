import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { generateKey } from '@keyplane/key-format';
import { waitReady } from '../tools/stack/process-group.js';
import { sampleUsage, usagePerRequest } from './cpu.js';
import { IsolatedRun, natsUrl, runScript } from './isolated-run.js';
import { runLoad } from './load.js';
import { median } from './query-plans.js';

// The gateways of several builds side by side in front of one stack (this build's keys, auth,
// metering and demo API), loaded in turn in short rounds, each round in another order. What one
// full `npm run bench` per build cannot tell apart on a machine whose speed drifts by half within
// minutes, this can: every round loads each gateway under the same drift.
//
//   git worktree add /tmp/before <commit> && ln -s "$PWD/node_modules" /tmp/before/ && (cd /tmp/before && npm run build)
//   npm run build && GATEWAY_BUILDS=/tmp/before,. node --import ./tools/register-paths.js dist/bench/gateway-builds.js
//
// GATEWAY_BUILDS: checkouts, each built (its dist/ is what runs). BENCH_ROUNDS (8), BENCH_SECONDS
// per round (3), BENCH_CONNECTIONS (32). Prints each gateway's CPU per request and its share of
// all the CPU the round used, per round and as medians: the share is the steadier figure, since
// the whole stack's CPU per request moves with the machine.

const builds = (process.env.GATEWAY_BUILDS ?? '.').split(',').map((build) => resolve(build));
const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const run = new IsolatedRun('gwbuilds');
const admin = generateKey({ environment: 'live' }).key;
const ports = { keys: 19181, auth: 19182, metering: 19183, demo: 18190, firstGateway: 18200 };

interface Gateway {
  name: string;
  port: number;
  child: ChildProcess;
}

/** A build's gateway, run from its own checkout so it loads that build's libraries. */
async function startGateway(build: string, index: number): Promise<Gateway> {
  const port = ports.firstGateway + index;
  const child = spawn(process.execPath, ['--import', `${build}/tools/register-paths.js`, `${build}/dist/apps/gateway/src/main.js`], {
    cwd: build,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      NATS_PREFIX: run.prefix,
      LOG_LEVEL: 'warn',
      PORT: String(port),
      METRICS_PORT: String(port + 100),
      UPSTREAM_URL: `http://127.0.0.1:${ports.demo}`,
    },
  });
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  await waitReady({ spec: { name: build, main: '', readyPort: port, env: {} }, child, exited }, 60_000);
  return { name: `${index}:${build}`, port, child };
}

async function createKeys(gateway: Gateway, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${gateway.port}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `side by side ${i}`, permissions: ['FLOWS:READ'], rateLimits: { hour: 1_000_000_000, day: 1_000_000_000 } }),
    });
    if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
    keys.push(((await response.json()) as { key: string }).key);
  }
  return keys;
}

runScript(async () => {
  const gateways: Gateway[] = [];
  try {
    await run.start('keys', 'dist/apps/keys/src/main.js', { readyPort: ports.keys, env: { HTTP_PORT: String(ports.keys), BOOTSTRAP_ADMIN_KEY: admin } });
    await run.start('auth', 'dist/apps/auth/src/main.js', { readyPort: ports.auth, env: { HTTP_PORT: String(ports.auth) } });
    await run.start('metering', 'dist/apps/metering/src/main.js', { readyPort: ports.metering, env: { HTTP_PORT: String(ports.metering) } });
    await run.start('demo-api', 'dist/apps/demo-api/src/main.js', { readyPort: ports.demo, env: { PORT: String(ports.demo) } });
    for (const [index, build] of builds.entries()) gateways.push(await startGateway(build, index));

    const keys = await createKeys(gateways[0], 100);
    const processes = [
      ...run.processes.map((service) => ({ name: service.spec.name, pid: service.child.pid ?? 0 })),
      ...gateways.map((gateway) => ({ name: gateway.name, pid: gateway.child.pid ?? 0 })),
      { name: 'load generator', pid: process.pid },
    ];
    const url = (gateway: Gateway) => `http://127.0.0.1:${gateway.port}/v1/flows`;
    // Past auth's lease warm-up for every key, through every gateway.
    for (const gateway of gateways) await runLoad({ name: 'warm-up', url: url(gateway), keys, durationSeconds: 10, connections, amount: keys.length * 32 });

    const measured = new Map(gateways.map((gateway) => [gateway.name, { cpuUs: [] as number[], share: [] as number[], rps: [] as number[] }]));
    for (let round = 0; round < rounds; round++) {
      const order = gateways.map((_, i) => gateways[(i + round) % gateways.length]);
      for (const gateway of order) {
        const before = sampleUsage(processes);
        const result = await runLoad({ name: gateway.name, url: url(gateway), keys, durationSeconds: seconds, connections });
        const used = usagePerRequest(before, sampleUsage(processes), result.requestsPerSecond * seconds);
        const total = Object.values(used).reduce((sum, { cpuUs }) => sum + cpuUs, 0);
        const cpuUs = used[gateway.name]?.cpuUs ?? 0;
        const figures = measured.get(gateway.name)!;
        figures.cpuUs.push(cpuUs);
        figures.share.push(cpuUs / Math.max(1, total));
        figures.rps.push(result.requestsPerSecond);
        console.log(`round ${round} ${gateway.name}: ${result.requestsPerSecond} req/s, gateway ${cpuUs} µs per request of ${total} in all (${((100 * cpuUs) / Math.max(1, total)).toFixed(1)} %)`);
      }
    }
    for (const [name, { cpuUs, share, rps }] of measured) {
      console.log(`${name}: median gateway ${median(cpuUs)} µs per request, ${(100 * median(share)).toFixed(1)} % of the CPU, ${median(rps)} req/s`);
    }
  } finally {
    for (const gateway of gateways) gateway.child.kill('SIGTERM');
    await Promise.all(gateways.map((gateway) => new Promise((done) => (gateway.child.exitCode === null ? gateway.child.once('exit', done) : done(null)))));
    await run.close();
  }
});
