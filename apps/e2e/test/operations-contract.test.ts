import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import pg from 'pg';
import { CapturedLogs, freePort, freshDatabase, freshNamespace, TEST_NATS_URL } from '@keyplane/testing';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { loadMeteringConfig } from '../../metering/src/config.js';
import { startMeteringService } from '../../metering/src/start.js';
import { buildOnce, spawnService } from './service-process.js';

// What an operator sees when starting Keyplane wrong (DESIGN §9–§10, docs/operations.md): the
// stack's `npm start` and each service alone refuse a bad setting or an unreachable dependency
// in words that name it, never with a stack trace or a password; and the shipped manifests keep
// /metrics off the gateway's public Service.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SERVER_DB = (process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const NOT_SHOWN = '(the value is not shown: it may hold a password)';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm start`'s program (the stack's main, built), with only `env`; it is expected to refuse before starting anything. */
async function stackMain(env: Record<string, string>): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', './tools/register-paths.js', 'dist/tools/stack/main.js'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A service process expected to refuse to start: its exit code and its one fatal log line. */
async function serviceRefusal(name: string, env: Record<string, string>): Promise<{ code: number | null; fatal: string | undefined; output: string }> {
  const proc = spawnService(name, { HTTP_HOST: '127.0.0.1', HOST: '127.0.0.1', HTTP_PORT: String(await freePort()), ...env });
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  const { code } = await proc.exited;
  clearTimeout(timer);
  const lines = proc
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  return { code, fatal: lines.find((line) => line.level === 60)?.msg, output: proc.output() };
}

describe('npm start refuses a bad setting before starting anything', () => {
  let unreachable: { DATABASE_URL: string; NATS_URL: string };
  let ports: Record<string, string>;

  beforeAll(async () => {
    buildOnce();
    // Nothing here may reach the developer's Postgres or NATS, whatever the code under test does.
    unreachable = { DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/kp_never`, NATS_URL: `nats://127.0.0.1:${await freePort()}` };
    ports = {};
    for (const name of ['PORT', 'METRICS_PORT', 'KEYS_PORT', 'AUTH_PORT', 'METERING_PORT']) ports[name] = String(await freePort());
    ports.UPSTREAM_URL = `http://127.0.0.1:${await freePort()}`;
  }, 120_000);

  const base = () => ({ ...ports, ...unreachable, NATS_PREFIX: `kp_ops_contract_${randomBytes(3).toString('hex')}`, KEYPLANE_LOG_DIR: '/tmp/kp-ops-contract-logs' });

  it.each([
    ['DATABASE_URL', (password: string) => `postgres://postgres:${password}@127.0.0.1:notaport/keyplane`, 'postgres:// or postgresql://'],
    ['NATS_URL', (password: string) => `nats://gateway:${password}@127.0.0.1:notaport`, 'nats:// or tls://'],
  ])('a malformed %s is named, without a stack trace and without its password', async (variable, url, protocols) => {
    const password = `Pw${randomBytes(6).toString('hex')}`;
    const result = await stackMain({ ...base(), [variable]: url(password) });
    expect({ code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
      code: 1,
      stderr: `Keyplane cannot start:\n  ${variable} must be a URL starting with ${protocols} ${NOT_SHOWN}\n`,
      stdout: '',
    });
  });

  it('an empty DATABASE_URL is the default, as for the services: no crash, the other problem is reported', async () => {
    const result = await stackMain({ ...base(), DATABASE_URL: '', NATS_URL: unreachable.NATS_URL });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Keyplane cannot start:\n  NATS (with JetStream) is not reachable at ${new URL(unreachable.NATS_URL).host}.`);
    expect(result.stderr).not.toMatch(/TypeError|\n {4}at /);
  });

  it.each([['notaurl'], ['https://127.0.0.1:8443'], ['ftp://127.0.0.1:8090']])('UPSTREAM_URL=%s is named (npm start runs the demo API over plain http)', async (value) => {
    const result = await stackMain({ ...base(), UPSTREAM_URL: value });
    expect({ code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
      code: 1,
      stderr: `Keyplane cannot start:\n  UPSTREAM_URL must be a URL starting with http:// ${NOT_SHOWN}\n`,
      stdout: '',
    });
  });

  it('two services given one port are named, instead of one of them dying after the others started', async () => {
    const result = await stackMain({ ...base(), AUTH_PORT: ports.KEYS_PORT });
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 1,
      stderr: `Keyplane cannot start:\n  KEYS_PORT and AUTH_PORT both name port ${ports.KEYS_PORT}: each service needs its own\n`,
    });
  });
});

describe('a service started alone says which dependency failed, where it looked, and the variable', () => {
  beforeAll(() => buildOnce(), 120_000);

  it('keys: Postgres unreachable', async () => {
    const port = await freePort();
    const result = await serviceRefusal('keys', { DATABASE_URL: `postgres://postgres:S3cretPw@127.0.0.1:${port}/keyplane`, NATS_URL: `nats://127.0.0.1:${await freePort()}` });
    expect({ code: result.code, fatal: result.fatal }).toEqual({
      code: 1,
      fatal: `Postgres is not reachable at 127.0.0.1:${port}, database "keyplane" (DATABASE_URL): connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(result.output).not.toContain('S3cretPw');
  });

  it.each(['auth', 'metering'])('%s: NATS unreachable', async (name) => {
    const database = await freshDatabase('ops_contract_nats');
    const port = await freePort();
    try {
      const result = await serviceRefusal(name, { DATABASE_URL: database.url, NATS_URL: `nats://${name}:N4tsPw@127.0.0.1:${port}` });
      expect({ code: result.code, fatal: result.fatal }).toEqual({
        code: 1,
        fatal: `NATS is not reachable at 127.0.0.1:${port} (NATS_URL): connection refused: connect ECONNREFUSED 127.0.0.1:${port}`,
      });
      expect(result.output).not.toContain('N4tsPw');
    } finally {
      await database.drop();
    }
  });

  it('gateway: NATS unreachable', async () => {
    const port = await freePort();
    const listeners = { PORT: String(await freePort()), METRICS_PORT: String(await freePort()) };
    const result = await serviceRefusal('gateway', { ...listeners, NATS_URL: `nats://gateway:N4tsPw@127.0.0.1:${port}` });
    expect({ code: result.code, fatal: result.fatal }).toEqual({
      code: 1,
      fatal: `NATS is not reachable at 127.0.0.1:${port} (NATS_URL): connection refused: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    expect(result.output).not.toContain('N4tsPw');
  });

  it('metering: a database that does not exist, for a user who may not create it (no CREATEDB)', async () => {
    const role = `kp_ops_nocreate_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: `${SERVER_DB}/postgres` });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    try {
      const server = new URL(SERVER_DB);
      const url = new URL(SERVER_DB);
      url.username = role;
      url.pathname = `/${role}_db`;
      const result = await serviceRefusal('metering', { DATABASE_URL: url.toString(), NATS_URL: TEST_NATS_URL });
      expect({ code: result.code, fatal: result.fatal }).toEqual({
        code: 1,
        fatal: `Postgres at ${server.hostname}:${server.port || 5432}, database "${role}_db" (DATABASE_URL): permission denied to create database`,
      });
    } finally {
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });
});

describe('settings a service does not read, and values it must not take', () => {
  it('the gateway and the demo API listen on PORT and HOST only: a stray HTTP_PORT or HTTP_HOST stops neither', () => {
    expect(loadGatewayConfig({ HTTP_PORT: 'abc', HTTP_HOST: 'nowhere', PORT: '8081' })).toMatchObject({ httpPort: 8081, httpHost: '0.0.0.0' });
    expect(loadDemoApiConfig({ HTTP_PORT: 'abc', HTTP_HOST: 'nowhere', PORT: '8091' })).toMatchObject({ httpPort: 8091, httpHost: '0.0.0.0' });
  });

  it('the gateway refuses METRICS_PORT equal to PORT, naming both, as a process', async () => {
    buildOnce();
    const port = String(await freePort());
    const result = await serviceRefusal('gateway', { PORT: port, METRICS_PORT: port, NATS_URL: TEST_NATS_URL });
    expect({ code: result.code, fatal: result.fatal }).toEqual({ code: 1, fatal: `METRICS_PORT must differ from PORT (both ${port}): /metrics is never served on the public port` });
    // Both 0 is two free ports, as the tests use.
    expect(loadGatewayConfig({ PORT: '0', METRICS_PORT: '0' })).toMatchObject({ httpPort: 0, metricsPort: 0 });
  }, 60_000);

  it.each([['0x10'], ['1e1'], [' 3 '], ['Infinity']])('metering refuses ALERT_SPIKE_FACTOR=%j (decimal numbers only, as every other setting)', (value) => {
    expect(() => loadMeteringConfig({ ALERT_SPIKE_FACTOR: value })).toThrow(`ALERT_SPIKE_FACTOR must be a positive number, got "${value}"`);
    expect(loadMeteringConfig({ ALERT_SPIKE_FACTOR: '2.5' }).thresholds.spikeFactor).toBe(2.5);
  });
});

describe('LOG_LEVEL from the configuration a service is started with', () => {
  it('metering and the demo API log at the configured level, not at the process environment’s', async () => {
    const logs = new CapturedLogs();
    const database = await freshDatabase('ops_contract_log');
    const ns = freshNamespace();
    const common = { LOG_LEVEL: 'warn', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', HOST: '127.0.0.1', PORT: '0' };
    const metering = await startMeteringService(loadMeteringConfig({ ...common, DATABASE_URL: database.url, NATS_URL: TEST_NATS_URL, NATS_PREFIX: ns.ns.prefix }), { logDestination: logs });
    const demo = await startDemoApiService(loadDemoApiConfig(common), { logDestination: logs });
    try {
      await fetch(`${demo.url}/v1/flows`);
      const below = logs.lines.map((line) => JSON.parse(line) as { level: number; name: string; msg: string }).filter((line) => line.level < 40);
      expect(below.map(({ name, msg }) => `${name}: ${msg}`).slice(0, 3)).toEqual([]);
    } finally {
      await demo.close();
      await metering.close();
      await ns.cleanup();
      await database.drop();
    }
  }, 60_000);
});

describe('the Kubernetes manifests', () => {
  it("keep /metrics off the gateway's Service: it carries only the public port, the one an Ingress or LoadBalancer fronts", () => {
    const [service] = parseAllDocuments(readFileSync(join(repoRoot, 'infra/k8s/base/gateway/service.yaml'), 'utf8')).map((doc) => doc.toJS() as { spec: { ports: unknown[] } });
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http' }]);
  });
});

describe('LOG_LEVEL=silent', () => {
  it('still lets the one line that says why start-up failed through', async () => {
    buildOnce();
    const result = await serviceRefusal('keys', { LOG_LEVEL: 'silent', KEY_PREFIX: 'Not-A-Prefix' });
    expect({ code: result.code, fatal: result.fatal }).toEqual({ code: 1, fatal: 'KEY_PREFIX must be 1-16 lowercase letters or digits, got "Not-A-Prefix"' });
  }, 60_000);
});
