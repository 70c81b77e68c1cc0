import { fileURLToPath } from 'node:url';
import { isValidPrefix } from '@keyplane/key-format';
import { EnvReader, readCommonConfig, type CommonConfig, type ConnectionLimits } from '@keyplane/runtime';
import { assetPath } from './assets/asset-path.js';
import { parseTrustedProxies } from './client-address/trusted-proxies.js';

export interface GatewayConfig extends CommonConfig {
  /** Internal port for /metrics (and probes); never the public one. */
  metricsPort: number;
  upstreamUrl: string;
  keyPrefix: string;
  authTimeoutMs: number;
  keysTimeoutMs: number;
  /** Metering queries; also how long a management answer waits for `lastUsedAt` before leaving it null. */
  meteringTimeoutMs: number;
  upstreamTimeoutMs: number;
  routesFile: string;
  /** Peers whose `X-Forwarded-For` names the client; none by default. */
  trustedProxies: string[];
  /** What a slow or idle client may hold on the public port. */
  clientLimits: ClientLimits;
  /** How long the gateway keeps serving after SIGTERM, unready, before it closes its listener. */
  shutdownDelayMs: number;
}

export interface ClientLimits extends ConnectionLimits {
  /** How long a client may take no byte of an answer the gateway has bytes waiting for. */
  sendTimeoutMs: number;
}

/** DESIGN §9: `PORT` is the public port; a bad value stops start-up naming the variable. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  const read = new EnvReader(env);
  const keyPrefix = read.string('KEY_PREFIX', 'tv');
  if (!isValidPrefix(keyPrefix)) throw new Error(`KEY_PREFIX must be 1-16 lowercase letters or digits, got "${keyPrefix}"`);
  const common = readCommonConfig(read, 8080, { port: 'PORT', host: 'HOST' });
  const metricsPort = read.int('METRICS_PORT', 9080, { max: 65535 });
  // One listener would take the port and the other fail with a bare EADDRINUSE; 0 picks a free port for each.
  if (common.httpPort === metricsPort && metricsPort !== 0) throw new Error(`METRICS_PORT must differ from PORT (both ${metricsPort}): /metrics is never served on the public port`);
  return {
    ...common,
    metricsPort,
    upstreamUrl: httpUrl('UPSTREAM_URL', read.string('UPSTREAM_URL', 'http://127.0.0.1:8090')),
    keyPrefix,
    authTimeoutMs: read.int('AUTH_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
    keysTimeoutMs: read.int('KEYS_TIMEOUT_MS', 5000, { min: 1, max: 60_000 }),
    meteringTimeoutMs: read.int('METERING_TIMEOUT_MS', 2000, { min: 1, max: 60_000 }),
    upstreamTimeoutMs: read.int('UPSTREAM_TIMEOUT_MS', 30_000, { min: 1, max: 600_000 }),
    routesFile: read.string('ROUTES_FILE', fileURLToPath(assetPath('config/routes.json'))),
    trustedProxies: parseTrustedProxies(env.TRUSTED_PROXIES),
    clientLimits: readClientLimits(read),
    // 0 keeps Ctrl-C instant on one machine; Kubernetes sets it (docs/operations.md, rolling updates).
    shutdownDelayMs: read.int('SHUTDOWN_DELAY_MS', 0, { max: 300_000 }),
  };
}

/**
 * The public port faces the internet, where Node's defaults let a client that sends a header
 * byte now and then hold a socket for up to 90 s, one that trickles a body hold it forever, and
 * one that stops reading a large answer hold its socket and an upstream connection forever.
 * Keep-alive stays Fastify's 72 s: longer than the 60 s idle timeout of common load balancers
 * (AWS ALB, ingress-nginx), which must give up on a connection before the gateway does.
 */
function readClientLimits(read: EnvReader): ClientLimits {
  const headersTimeoutMs = read.int('CLIENT_HEADERS_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 });
  const requestTimeoutMs = read.int('CLIENT_REQUEST_TIMEOUT_MS', 30_000, { min: 100, max: 3_600_000 });
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new Error(`CLIENT_REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must be at least CLIENT_HEADERS_TIMEOUT_MS (${headersTimeoutMs}): the request includes its headers`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    // Under 1 s the Keep-Alive header would advertise timeout=0.
    keepAliveTimeoutMs: read.int('CLIENT_KEEP_ALIVE_TIMEOUT_MS', 72_000, { min: 1000, max: 3_600_000 }),
    maxConnections: read.int('CLIENT_MAX_CONNECTIONS', 0, { max: 10_000_000 }),
    sendTimeoutMs: read.int('CLIENT_SEND_TIMEOUT_MS', 30_000, { min: 1000, max: 3_600_000 }),
  };
}

function httpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL, got "${value}"`);
  return value;
}
