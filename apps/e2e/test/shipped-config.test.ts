import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadAuthConfig } from '../../auth/src/config.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { DEFAULT_PUBLISH_TIMEOUT_MS } from '../../keys/src/start.js';
import { loadMeteringConfig } from '../../metering/src/config.js';

// The environment docker-compose.yml and the dev Kubernetes overlay give each service is one
// its own configuration accepts, and the NATS credentials on both sides of each login agree.
// (infra/test/ checks the files' shape; this reads them as each service would at start.)

const loaders: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  keys: loadKeysConfig,
  auth: loadAuthConfig,
  metering: loadMeteringConfig,
  'demo-api': loadDemoApiConfig,
  gateway: loadGatewayConfig,
};
const natsUsers = ['keys', 'auth', 'metering', 'gateway'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML, its shape is what is checked
type Yaml = Record<string, any>;

function readYaml(path: string): Yaml[] {
  const text = readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');
  return parseAllDocuments(text).map((doc) => doc.toJS() as Yaml);
}

/** Compose's `${NAME:-default}`, with nothing set in the shell that runs it. */
const composeValue = (value: unknown) => String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

/** A password nats-server 2.9 can read from its environment: a letter, then letters, digits, `-` or `_`, not a boolean word. */
const readableByNatsServer = (password: string) => /^[A-Za-z][A-Za-z0-9_-]*$/.test(password) && !/^(true|false|yes|no|on|off)$/i.test(password);

describe('docker-compose.yml, as each service reads it', () => {
  const [compose] = readYaml('docker-compose.yml');
  const envOf = (name: string): NodeJS.ProcessEnv =>
    Object.fromEntries(Object.entries<unknown>(compose.services[name].environment ?? {}).map(([key, value]) => [key, composeValue(value)]));

  it.each(Object.keys(loaders))('%s accepts its environment', (name) => {
    expect(() => loaders[name](envOf(name))).not.toThrow();
  });

  it.each(natsUsers)('%s logs in to NATS with the password nats-server has for it', (user) => {
    const url = new URL(envOf(user).NATS_URL!);
    const serverPassword = envOf('nats')[`${user.toUpperCase()}_NATS_PASSWORD`]!;
    expect({ user: url.username, password: decodeURIComponent(url.password) }).toEqual({ user, password: serverPassword });
    expect(readableByNatsServer(serverPassword)).toBe(true);
  });
});

describe('the dev Kubernetes overlay, as each Deployment reads it', () => {
  const [overlay] = readYaml('infra/k8s/overlays/dev/kustomization.yaml');
  const generated = new Map<string, Map<string, string>>(
    [...(overlay.configMapGenerator ?? []), ...(overlay.secretGenerator ?? [])].map((generator: Yaml) => [
      generator.name,
      new Map((generator.literals as string[]).map((literal) => [literal.slice(0, literal.indexOf('=')), literal.slice(literal.indexOf('=') + 1)])),
    ]),
  );
  const envOf = (name: string): NodeJS.ProcessEnv => {
    const [deployment] = readYaml(`infra/k8s/base/${name}/deployment.yaml`);
    const env: Yaml[] = deployment.spec.template.spec.containers[0].env ?? [];
    return Object.fromEntries(
      env.map(({ name: key, value, valueFrom }) => {
        if (value !== undefined) return [key, String(value)];
        const ref = valueFrom.secretKeyRef ?? valueFrom.configMapKeyRef;
        const found = generated.get(ref.name)?.get(ref.key);
        if (found === undefined) throw new Error(`${name}: ${key} refers to ${ref.name}/${ref.key}, which the dev overlay does not make`);
        return [key, found];
      }),
    );
  };

  it.each(Object.keys(loaders))('%s accepts its environment', (name) => {
    expect(() => loaders[name](envOf(name))).not.toThrow();
  });

  it("gives the gateway's pod time to drain: the delay, then the slowest request it may still be answering, to a client that then stops reading", () => {
    const [deployment] = readYaml('infra/k8s/base/gateway/deployment.yaml');
    const config = loadGatewayConfig(envOf('gateway'));
    const slowestRequestMs = config.clientLimits.requestTimeoutMs + config.authTimeoutMs + config.upstreamTimeoutMs + config.clientLimits.sendTimeoutMs;
    expect(config.shutdownDelayMs).toBeGreaterThan(0);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.shutdownDelayMs + slowestRequestMs);
  });

  it.each(natsUsers)('%s logs in to NATS as its own user, with a password nats-server can read', (user) => {
    const url = new URL(envOf(user).NATS_URL!);
    expect(url.username).toBe(user);
    expect(readableByNatsServer(decodeURIComponent(url.password))).toBe(true);
  });
});

describe('default timeouts, one service waiting on another', () => {
  it("keys gives up waiting for the key event stream well before the gateway gives up waiting for keys", () => {
    // Otherwise the 503 saying the change is stored never reaches a caller (docs/api.md).
    expect(loadGatewayConfig({}).keysTimeoutMs - DEFAULT_PUBLISH_TIMEOUT_MS).toBeGreaterThanOrEqual(1000);
  });
});
