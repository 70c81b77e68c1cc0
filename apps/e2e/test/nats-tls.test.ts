import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '@keyplane/key-format';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, freePort, freshDatabase, waitFor, type FreshDatabase } from '@keyplane/testing';
import { makeTestCertificates, startTlsNats, type TestCertificates, type TlsNatsServer } from '../../../libs/nats/test/tls-nats-server.js';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { loadMeteringConfig } from '../../metering/src/config.js';
import { startMeteringService } from '../../metering/src/start.js';
import { buildOnce, spawnService } from './service-process.js';

// The whole product on a nats-server of this file's own that requires TLS and verifies client
// certificates, as an operator runs it on Kubernetes (docs/operations.md, TLS to NATS): every
// service that uses NATS reaches it with NATS_TLS_CA_FILE, NATS_TLS_CERT_FILE and
// NATS_TLS_KEY_FILE, and one without the CA stops at start, saying which setting is missing.

let dir: string;
let certs: TestCertificates;
let nats: TlsNatsServer;
let database: FreshDatabase;
const running: ServiceHandle[] = [];
const logs = new CapturedLogs();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyplane-e2e-nats-tls-'));
  certs = await makeTestCertificates(join(dir, 'certs'));
  nats = await startTlsNats(join(dir, 'nats'), certs, { verifyClients: true });
  database = await freshDatabase('e2e_nats_tls');
}, 60_000);

afterAll(async () => {
  // Auth flushes its last usage events on close, so metering and keys go after it.
  for (const service of running.reverse()) await service.close();
  await nats?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

const common = () => ({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
/** The settings of a service on this file's NATS, but for `without`. */
const overTls = (without?: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries({
      NATS_URL: `tls://127.0.0.1:${nats.port}`,
      NATS_TLS_CA_FILE: certs.ca,
      NATS_TLS_CERT_FILE: certs.clientCert,
      NATS_TLS_KEY_FILE: certs.clientKey,
    }).filter(([name]) => name !== without),
  );

async function started<T extends ServiceHandle>(service: Promise<T>): Promise<T> {
  const handle = await service;
  running.push(handle);
  return handle;
}

describe('NATS over TLS with client certificates', () => {
  it('carries keys, auth, metering and the gateway: a key is issued, used and metered', async () => {
    const adminKey = generateKey({ environment: 'live' }).key;
    const withDatabase = { ...common(), ...overTls(), DATABASE_URL: database.url };
    await started(startKeysService(loadKeysConfig({ ...withDatabase, BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs }));
    await started(startAuthService(loadAuthConfig(withDatabase), { logDestination: logs }));
    const metering = await started(startMeteringService(loadMeteringConfig({ ...withDatabase, INGEST_LINGER_MS: '10' }), { logDestination: logs }));
    const demo = await started(startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: logs }));
    const gateway = await started(
      startGatewayService(loadGatewayConfig({ ...common(), ...overTls(), PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', UPSTREAM_URL: demo.url, AUTH_TIMEOUT_MS: '2000' }), {
        logDestination: logs,
      }),
    );
    expect((await fetch(`${metering.url}/readyz`)).status).toBe(200);

    const call = async (method: string, path: string, key: string, body?: unknown) => {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the assertions check its shape
      return { status: response.status, body: (await response.json()) as any };
    };
    const created = await call('POST', '/v1/api-keys', adminKey, { name: 'over tls', permissions: ['FLOWS:READ'] });
    expect(created).toMatchObject({ status: 201, body: { name: 'over tls', permissions: ['FLOWS:READ'], status: 'active' } });
    const { key, id } = created.body as { key: string; id: string };

    expect(await call('GET', '/v1/flows', key)).toEqual({ status: 200, body: { data: [] } });
    expect((await call('POST', '/v1/flows', key, { name: 'x' })).status).toBe(403);
    const usage = await waitFor('metering to count both requests', async () => {
      const answer = await call('GET', `/v1/api-keys/${id}/usage?granularity=day`, adminKey);
      const today = answer.status === 200 ? answer.body.data.at(-1) : undefined;
      return today?.requests === 2 ? today : undefined;
    }, 15_000);
    expect(usage).toMatchObject({ requests: 2, allowed: 1, forbidden: 1, rateLimited: 0, unauthorized: 0 });

    const keyBody = (await readFile(certs.clientKey, 'utf8')).split('\n')[1]!;
    expect(logs.lines.filter((line) => line.includes(keyBody))).toEqual([]);
  }, 60_000);

  it('stops auth at start without the CA, naming NATS_TLS_CA_FILE', async () => {
    const config = loadAuthConfig({ ...common(), ...overTls('NATS_TLS_CA_FILE'), DATABASE_URL: database.url });
    await expect(startAuthService(config, { logDestination: logs })).rejects.toThrow(
      new Error(
        `NATS at 127.0.0.1:${nats.port} (NATS_URL): TLS: the server's certificate is not trusted (unable to verify the first certificate): set NATS_TLS_CA_FILE to the PEM file of the CA that signed it`,
      ),
    );
  });

  it('stops auth at start with a client certificate and no key, naming both variables', () => {
    expect(() => loadAuthConfig({ ...common(), ...overTls('NATS_TLS_KEY_FILE'), DATABASE_URL: database.url })).toThrow(
      new Error('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together (a client certificate and its key): NATS_TLS_CERT_FILE is set, NATS_TLS_KEY_FILE is not'),
    );
  });
});

describe('the built services, as the container runs them', () => {
  /** The process's exit code and its one fatal line's message. */
  async function refusal(name: string, env: Record<string, string>): Promise<{ code: number | null; fatal: string[] }> {
    const proc = spawnService(name, { HTTP_HOST: '127.0.0.1', HOST: '127.0.0.1', HTTP_PORT: String(await freePort()), ...env });
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 30_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    const lines = proc.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string });
    return { code, fatal: lines.filter((line) => line.level === 60).map((line) => line.msg) };
  }

  beforeAll(() => buildOnce(), 120_000);

  it.each(['keys', 'auth', 'metering', 'gateway'])('%s: a NATS_TLS_CA_FILE it cannot read stops it with one line naming the variable and the path', async (name) => {
    const missing = join(dir, 'mounted', 'ca.crt');
    expect(await refusal(name, { DATABASE_URL: database.url, NATS_URL: nats.url, NATS_TLS_CA_FILE: missing })).toEqual({
      code: 1,
      fatal: [`NATS_TLS_CA_FILE: cannot read ${missing} (no such file)`],
    });
  });

  it('gateway: without the CA, it stops at start naming NATS_TLS_CA_FILE', async () => {
    expect(await refusal('gateway', { NATS_URL: nats.url, PORT: String(await freePort()), METRICS_PORT: String(await freePort()) })).toEqual({
      code: 1,
      fatal: [
        `NATS at 127.0.0.1:${nats.port} (NATS_URL): TLS: the server's certificate is not trusted (unable to verify the first certificate): set NATS_TLS_CA_FILE to the PEM file of the CA that signed it`,
      ],
    });
  });
});
