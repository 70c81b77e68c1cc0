import { namespace as contractsNamespace, type IssuedKey, type Namespace, type Reply } from '@keyplane/contracts';
import type { ServiceHandle } from '@keyplane/runtime';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { loadMeteringConfig } from '../../metering/src/config.js';
import { startMeteringService } from '../../metering/src/start.js';
import type { NatsUser } from './configured-nats.js';

// The whole product on one machine for one test file: keys (with a bootstrap admin key made
// here), two auth replicas sharing one quota store, optionally metering, the gateway and the
// demo API, each with its own free port, over a fresh database and NATS namespace.

export interface StackOptions {
  /** Put the gateway in front of another upstream (a header echo) instead of the demo API. */
  upstreamUrl?: string;
  authReplicas?: number;
  gatewayEnv?: Record<string, string>;
  /** Also run metering, with these settings over the test defaults; only the files about usage pay for it. */
  metering?: Record<string, string>;
  /**
   * Where each service reaches NATS: a forwarder of its own to the shared server, or (`ownServer`)
   * a NATS server of the test's own, each service logging in as its own user, with no subject prefix.
   */
  nats?: { urlFor(user: NatsUser): string; ownServer?: boolean };
  /** Where each service that has a database reaches it (a forwarder of its own), given the stack's database URL. */
  databaseUrlFor?: (service: 'keys' | 'auth' | 'metering', url: string) => string;
  /** How long keys' command replies wait for the key event stream. */
  keysPublishTimeoutMs?: number;
  /** The bootstrap admin key, and where every service's log lines go, when the test holds them itself. */
  adminKey?: string;
  logs?: CapturedLogs;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw text when the body is not JSON; tests read into it freely, the assertions check its shape. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface KeySpec {
  name?: string;
  environment?: 'live' | 'test';
  permissions: string[];
  rateLimits?: { hour?: number; day?: number };
  expiresAt?: string | null;
}

export interface Stack {
  gateway: GatewayHandle;
  auth: ServiceHandle[];
  keys: ServiceHandle;
  /** The metering service running now, if the stack runs one. */
  metering(): ServiceHandle | undefined;
  demo: ServiceHandle;
  adminKey: string;
  /** This stack's subject prefix and stream names. */
  ns: Namespace;
  /** The one database all services use, each in its own schema. */
  databaseUrl: string;
  /** Every line every service logged, to search for secrets. */
  logs: CapturedLogs;
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Issues a key through the management API (as the admin unless `as` is given) and returns its secret and object. */
  createKey(spec: KeySpec, as?: string): Promise<{ key: string; id: string; object: Answer['body'] }>;
  /**
   * The first key of another account, with every permission, issued on the keys service's own
   * subject as the gateway would for a caller of that account: no endpoint creates accounts.
   */
  createAccountAdmin(accountId: string): Promise<{ key: string; id: string }>;
  /** One more gateway on this stack's services and upstream (closed with the stack), with these settings over the stack's. */
  startGateway(env: Record<string, string>): Promise<GatewayHandle>;
  stopAuth(): Promise<void>;
  stopKeys(): Promise<void>;
  stopDemo(): Promise<void>;
  /** Closes metering and starts a new one on the same database and namespace, as a redeploy would. */
  restartMetering(): Promise<void>;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 10_000;

export async function startStack(label: string, options: StackOptions = {}): Promise<Stack> {
  const database: FreshDatabase = await freshDatabase(label);
  // On a server of its own, the stack needs no prefix, and its streams go with that server.
  const namespace: FreshNamespace = options.nats?.ownServer ? { ns: contractsNamespace(''), cleanup: async () => undefined } : freshNamespace();
  const logs = options.logs ?? new CapturedLogs();
  const adminKey = options.adminKey ?? generateKey({ environment: 'live' }).key;
  const common = { NATS_PREFIX: namespace.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' };
  const natsUrl = (user: NatsUser) => ({ NATS_URL: options.nats?.urlFor(user) ?? TEST_NATS_URL });
  const databaseUrl = (service: 'keys' | 'auth' | 'metering') => ({ DATABASE_URL: options.databaseUrlFor?.(service, database.url) ?? database.url });
  const running: { name: string; service: { close(): Promise<void> } }[] = [];
  const stop = async (name: string) => {
    for (const entry of running.filter((r) => r.name === name)) {
      running.splice(running.indexOf(entry), 1);
      await entry.service.close();
    }
  };

  try {
    const keys = await startKeysService(loadKeysConfig({ ...common, ...natsUrl('keys'), ...databaseUrl('keys'), BOOTSTRAP_ADMIN_KEY: adminKey }), {
      logDestination: logs,
      publishTimeoutMs: options.keysPublishTimeoutMs,
    });
    running.push({ name: 'keys', service: keys });
    const auth: ServiceHandle[] = [];
    for (let i = 0; i < (options.authReplicas ?? 2); i++) {
      const replica = await startAuthService(loadAuthConfig({ ...common, ...natsUrl('auth'), ...databaseUrl('auth'), DATABASE_POOL_SIZE: '4' }), {
        logDestination: logs,
      });
      auth.push(replica);
      running.push({ name: 'auth', service: replica });
    }
    const meteringConfig = options.metering
      ? loadMeteringConfig({ ...common, ...natsUrl('metering'), ...databaseUrl('metering'), INGEST_ACK_WAIT_MS: '2000', INGEST_RETRY_DELAY_MS: '100', ...options.metering })
      : null;
    let metering: ServiceHandle | undefined;
    const startMetering = async () => {
      if (!meteringConfig) return;
      metering = await startMeteringService(meteringConfig, { logDestination: logs });
      running.push({ name: 'metering', service: metering });
    };
    await startMetering();
    const demo = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: logs });
    running.push({ name: 'demo', service: demo });
    const startGateway = async (env: Record<string, string>) => {
      const started = await startGatewayService(
        loadGatewayConfig({
          ...common,
          ...natsUrl('gateway'),
          PORT: '0',
          HOST: '127.0.0.1',
          METRICS_PORT: '0',
          UPSTREAM_URL: options.upstreamUrl ?? demo.url,
          // Generous: the whole suite shares 2 cores, and a decision held up longer than this
          // under that load would be a test failure, not a finding. No responders is immediate.
          AUTH_TIMEOUT_MS: '2000',
          KEYS_TIMEOUT_MS: '2000',
          ...env,
        }),
        { logDestination: logs },
      );
      running.push({ name: 'gateway', service: started });
      return started;
    };
    const gateway = await startGateway({ ...options.gatewayEnv });

    const call = async (method: string, path: string, { key = adminKey, body, headers = {} }: CallOptions = {}): Promise<Answer> => {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        headers: {
          ...(key === null ? {} : { authorization: `Bearer ${key}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: the assertion will show the raw text.
      }
      return { status: response.status, headers: response.headers, body: parsed };
    };

    return {
      gateway,
      auth,
      keys,
      metering: () => metering,
      demo,
      adminKey,
      ns: namespace.ns,
      databaseUrl: database.url,
      logs,
      call,
      async createKey(spec, as = adminKey) {
        const created = await call('POST', '/v1/api-keys', { key: as, body: { name: 'e2e key', ...spec } });
        if (created.status !== 201) throw new Error(`creating a key answered ${created.status}: ${JSON.stringify(created.body)}`);
        const { key, ...object } = created.body;
        return { key, id: object.id, object };
      },
      async createAccountAdmin(accountId) {
        const secret = generateKey({ environment: 'live' }).key;
        const nc = await connectNats({ url: natsUrl('gateway').NATS_URL, name: 'e2e-account-admin' });
        try {
          const subject = namespace.ns.subjects.keys.issue;
          const actor = { keyId: `key_${'0'.repeat(26)}`, accountId, environment: 'live', permissions: ['*'] };
          const data = { actor, name: `${accountId} admin`, environment: 'live', permissions: ['*'], secret: fingerprint(secret) };
          const message = await nc.request(subject, encodeJson({ pattern: subject, id: accountId, data }), { timeout: REQUEST_TIMEOUT_MS });
          const { response } = decodeJson(message.data) as { response: Reply<IssuedKey> };
          if (!response.ok) throw new Error(`issuing ${accountId}'s admin key: ${JSON.stringify(response.error)}`);
          return { key: secret, id: response.value.key.id };
        } finally {
          await nc.close();
        }
      },
      startGateway,
      stopAuth: () => stop('auth'),
      stopKeys: () => stop('keys'),
      stopDemo: () => stop('demo'),
      async restartMetering() {
        if (!meteringConfig) throw new Error('this stack runs without metering');
        await stop('metering');
        await startMetering();
      },
      async close() {
        // Auth flushes its last usage events on close, so metering goes after it.
        for (const name of ['gateway', 'demo', 'auth', 'metering', 'keys']) await stop(name);
        await namespace.cleanup();
        await database.drop();
      },
    };
  } catch (error) {
    for (const { service } of running.reverse()) await service.close().catch(() => undefined);
    await namespace.cleanup().catch(() => undefined);
    await database.drop().catch(() => undefined);
    throw error;
  }
}

/** DESIGN §5's headers, on every answer to a valid key. */
export const RATE_LIMIT_HEADERS = [
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-limit-hour',
  'x-ratelimit-remaining-hour',
  'x-ratelimit-limit-day',
  'x-ratelimit-remaining-day',
];

/** The rate-limit headers of an answer, for exact comparison. */
export function rateLimitHeaders(answer: Answer): Record<string, string | null> {
  return Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, answer.headers.get(name)]));
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const endOfHour = (at = nowSeconds()) => Math.floor(at / 3600) * 3600 + 3600;
export const endOfDay = (at = nowSeconds()) => Math.floor(at / 86400) * 86400 + 86400;

/**
 * Quota tests count within one UTC hour; starting a few seconds before its end would see the windows reset mid-test.
 * The wait can take `hourEndWaitMs(marginSeconds)`: the hook or test that calls it needs that much time on top of its own.
 */
export async function awayFromHourEnd(marginSeconds = 10): Promise<void> {
  const left = endOfHour() * 1000 - Date.now();
  if (left < marginSeconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 1000));
}

/** The longest awayFromHourEnd(marginSeconds) can wait. */
export const hourEndWaitMs = (marginSeconds: number) => (marginSeconds + 1) * 1000;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
