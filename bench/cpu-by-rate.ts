import { sampleUsage, usagePerRequest } from './cpu.js';
import { DEMO_TENANT_HEADERS } from './demo-tenant.js';
import { IsolatedRun, runScript } from './isolated-run.js';
import { pacedRequestsSent, runPacedLoadApart } from './paced-load.js';

// What one request costs a server in CPU at each even rate, for a bare `node:http` server and
// the demo API, each alone on the machine apart from the load generator (a process of its own),
// the two alternated at every rate:
//   npm run build && node --import ./tools/register-paths.js dist/bench/cpu-by-rate.js
// CPU_BY_RATE_RATES (100,200,500,1000,2000,4000) and CPU_BY_RATE_SECONDS (8) set the runs. On a
// shared virtual machine a process that waits between requests may be charged far more for each
// (colder caches, a virtual CPU slowed while idle); this shows how much, with no stack at all.

const rates = (process.env.CPU_BY_RATE_RATES ?? '100,200,500,1000,2000,4000').split(',').map(Number);
const seconds = Number(process.env.CPU_BY_RATE_SECONDS ?? 8);
const run = new IsolatedRun('cpurate');
const ports = { bare: 18096, demo: 18095 };

runScript(async () => {
  try {
    const servers = [
      { name: 'bare node:http', process: await run.start('bare-http', 'dist/bench/ceiling/bare-http-server.js', { readyPort: 0, env: { PORT: String(ports.bare) } }), url: `http://127.0.0.1:${ports.bare}/`, headers: {} },
      { name: 'demo API', process: await run.start('demo-api', 'dist/apps/demo-api/src/main.js', { readyPort: ports.demo, env: { PORT: String(ports.demo) } }), url: `http://127.0.0.1:${ports.demo}/v1/flows`, headers: DEMO_TENANT_HEADERS },
    ];
    const rows: string[] = [];
    for (const rate of rates) {
      const cells = [];
      for (const server of servers) {
        const services = [{ name: server.name, pid: server.process.child.pid ?? 0 }];
        const before = sampleUsage(services);
        const options = { name: server.name, url: server.url, headers: server.headers, rate, durationSeconds: seconds };
        const result = await runPacedLoadApart(options);
        const { cpuUs } = usagePerRequest(before, sampleUsage(services), pacedRequestsSent(options))[server.name] ?? { cpuUs: 0 };
        cells.push(`${cpuUs} µs, p50 ${result.p50} ms, p99 ${result.p99} ms`);
      }
      rows.push(`| ${rate.toLocaleString('en')} | ${cells.join(' | ')} |`);
    }
    console.log(`\nRun ${new Date().toISOString()}, ${seconds} s per rate (after a warm-up not counted in the latencies), node ${process.version}.\n`);
    console.log(['| req/s | bare node:http: CPU per request, latency | demo API: the same |', '|---|---|---|', ...rows].join('\n'));
  } finally {
    await run.close();
  }
});
