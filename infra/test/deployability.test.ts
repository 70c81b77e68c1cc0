import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { namespace } from '@keyplane/contracts';
import { kustomize, readYamlDocuments, repoRoot, type Manifest } from './read.js';

// What an SRE meets running these artefacts: what Kubernetes admits and keeps running, who can
// reach which port, what each service is told, and what nats-server lets each user do.

const apps = ['keys', 'auth', 'metering', 'gateway', 'demo-api'];
const layouts = ['infra/k8s/base', 'infra/k8s/overlays/dev', 'infra/k8s/overlays/production'];

/** A kustomization's manifests with its patches applied (strategic merge: lists of named items merge by name). */
function render(dir: string): Manifest[] {
  const [kustomization] = readYamlDocuments(`${dir}/kustomization.yaml`);
  const docs = kustomize(dir).map(({ doc }) => structuredClone(doc));
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of readYamlDocuments(`${dir}/${path}`)) {
      const target = docs.find((doc) => doc.kind === patch.kind && doc.metadata.name === patch.metadata.name);
      if (!target) throw new Error(`${dir}/${path}: no ${patch.kind} ${patch.metadata.name} to patch`);
      merge(target, patch);
    }
  }
  return docs;
}

function merge(target: Manifest, patch: Manifest): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isNamedList(current) && isNamedList(value)) {
      for (const item of value) {
        const same = current.find((existing) => existing.name === item.name);
        if (same) merge(same, item);
        else current.push(item);
      }
    } else if (isMap(current) && isMap(value)) merge(current, value);
    else target[key] = value;
  }
}

const isMap = (value: unknown): value is Manifest => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNamedList = (value: unknown): value is Manifest[] => Array.isArray(value) && value.every((item) => isMap(item) && typeof item.name === 'string');

const ofKind = (docs: Manifest[], kind: string) => docs.filter((doc) => doc.kind === kind);
const deploymentOf = (docs: Manifest[], name: string) => ofKind(docs, 'Deployment').find((doc) => doc.metadata.name === name)!;
const containerOf = (deployment: Manifest): Manifest => deployment.spec.template.spec.containers[0];
const envOf = (deployment: Manifest): Record<string, Manifest> => Object.fromEntries(containerOf(deployment).env.map((e: Manifest) => [e.name, e]));

describe.each(layouts)('%s: what Kubernetes admits and keeps running', (dir) => {
  const docs = render(dir);

  it.each(apps)('%s: a pod the Pod Security Standards "restricted" profile admits, with no service account token', (name) => {
    const pod = deploymentOf(docs, name).spec.template.spec;
    const container = containerOf(deploymentOf(docs, name));
    expect({
      runAsNonRoot: pod.securityContext?.runAsNonRoot,
      runAsUser: pod.securityContext?.runAsUser,
      seccomp: pod.securityContext?.seccompProfile?.type ?? container.securityContext?.seccompProfile?.type,
      allowPrivilegeEscalation: container.securityContext?.allowPrivilegeEscalation,
      privileged: container.securityContext?.privileged ?? false,
      drop: container.securityContext?.capabilities?.drop,
      add: container.securityContext?.capabilities?.add ?? [],
      readOnlyRootFilesystem: container.securityContext?.readOnlyRootFilesystem,
      automountServiceAccountToken: pod.automountServiceAccountToken,
      host: [pod.hostNetwork, pod.hostPID, pod.hostIPC].some(Boolean),
      hostPath: (pod.volumes ?? []).some((volume: Manifest) => volume.hostPath),
    }).toEqual({
      runAsNonRoot: true,
      // The image's `node` user.
      runAsUser: 1000,
      seccomp: 'RuntimeDefault',
      allowPrivilegeEscalation: false,
      privileged: false,
      drop: ['ALL'],
      add: [],
      readOnlyRootFilesystem: true,
      automountServiceAccountToken: false,
      host: false,
      hostPath: false,
    });
  });

  it('leaves the replica count of a Deployment an HPA scales to the HPA, so an apply does not reset it', () => {
    for (const hpa of ofKind(docs, 'HorizontalPodAutoscaler')) {
      const deployment = deploymentOf(docs, hpa.spec.scaleTargetRef.name);
      expect({ name: deployment.metadata.name, replicas: deployment.spec.replicas }).toEqual({ name: deployment.metadata.name, replicas: undefined });
    }
  });

  it('gives every HPA a CPU request to measure utilization against, in the overlays', () => {
    if (dir.endsWith('base')) return;
    for (const hpa of ofKind(docs, 'HorizontalPodAutoscaler')) {
      expect({ name: hpa.metadata.name, cpu: containerOf(deploymentOf(docs, hpa.spec.scaleTargetRef.name)).resources?.requests?.cpu }).toEqual({
        name: hpa.metadata.name,
        cpu: expect.any(String),
      });
    }
  });

  it('lets a node drain: every PodDisruptionBudget leaves at least one pod of its Deployment free to go', () => {
    const fewest = (name: string) =>
      ofKind(docs, 'HorizontalPodAutoscaler').find((hpa) => hpa.spec.scaleTargetRef.name === name)?.spec.minReplicas ?? deploymentOf(docs, name).spec.replicas ?? 1;
    const blocking = ofKind(docs, 'PodDisruptionBudget').filter((pdb) => !(pdb.spec.minAvailable < fewest(pdb.spec.selector.matchLabels['app.kubernetes.io/name'])));
    expect(blocking.map((pdb) => pdb.metadata.name)).toEqual([]);
  });
});

describe('kubernetes production overlay: replicas', () => {
  const docs = render('infra/k8s/overlays/production');

  it('runs at least three auth and gateway replicas and two of keys and metering, each with a PodDisruptionBudget', () => {
    const hpaFloor = (name: string) => ofKind(docs, 'HorizontalPodAutoscaler').find((hpa) => hpa.metadata.name === name)?.spec.minReplicas;
    expect({ auth: hpaFloor('auth'), gateway: hpaFloor('gateway') }).toEqual({ auth: 3, gateway: 3 });
    expect({ keys: deploymentOf(docs, 'keys').spec.replicas, metering: deploymentOf(docs, 'metering').spec.replicas }).toEqual({ keys: 2, metering: 2 });
    const pdbs = ofKind(docs, 'PodDisruptionBudget').map((pdb) => pdb.metadata.name);
    expect(pdbs.sort()).toEqual(['auth', 'gateway', 'keys', 'metering']);
  });
});

/** Who may open a connection to a pod's port under the NetworkPolicies (podSelector/namespaceSelector matchLabels, numeric ports). */
interface Peer {
  namespace: string;
  labels: Record<string, string>;
}
const NAMESPACE = 'keyplane';

function selects(selector: Manifest | undefined, labels: Record<string, string>): boolean {
  if (selector?.matchExpressions) throw new Error('matchExpressions are not modelled here');
  return Object.entries<string>(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

function admits(policies: Manifest[], target: Record<string, string>, port: number, from: Peer): boolean {
  const isolating = policies.filter((policy) => selects(policy.spec.podSelector, target) && (policy.spec.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (isolating.length === 0) return true;
  return isolating.some((policy) =>
    (policy.spec.ingress ?? []).some((rule: Manifest) => {
      const portOk = !rule.ports?.length || rule.ports.some((p: Manifest) => p.port === port && (p.protocol ?? 'TCP') === 'TCP');
      const peerOk =
        !rule.from?.length ||
        rule.from.some((peer: Manifest) => {
          if (peer.ipBlock) return false;
          const namespaceOk = peer.namespaceSelector ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': from.namespace }) : from.namespace === NAMESPACE;
          return namespaceOk && (!peer.podSelector || selects(peer.podSelector, from.labels));
        });
      return portOk && peerOk;
    }),
  );
}

describe('kubernetes network policies', () => {
  const docs = render('infra/k8s/overlays/production');
  const policies = ofKind(docs, 'NetworkPolicy');
  interface Pod {
    name: string;
    labels: Record<string, string>;
    ports: { name: string; port: number }[];
    metricsPort: number;
  }
  const pods = ofKind(docs, 'Deployment').map((deployment): Pod => ({
    name: deployment.metadata.name as string,
    labels: deployment.spec.template.metadata.labels as Record<string, string>,
    ports: containerOf(deployment).ports.map((p: Manifest) => ({ name: p.name as string, port: p.containerPort as number })),
    metricsPort: Number(deployment.spec.template.metadata.annotations['prometheus.io/port']),
  }));
  const podPeer = (name: string): Peer => ({ namespace: NAMESPACE, labels: pods.find((pod) => pod.name === name)!.labels });
  const outsider: Peer = { namespace: 'elsewhere', labels: { app: 'client' } };
  const prometheus: Peer = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' } };
  const isPublic = (pod: string, port: string) => pod === 'gateway' && port === 'http';

  it("opens the gateway's public port to everyone and no other port of any Keyplane pod", () => {
    const callers = [outsider, podPeer('auth'), podPeer('keys')];
    const reachable = pods.flatMap((pod) =>
      pod.ports.flatMap(({ port }) =>
        callers.filter((peer) => admits(policies, pod.labels, port, peer)).map((peer) => `${pod.name}:${port} from ${peer.namespace}/${Object.values(peer.labels)[0]}`),
      ),
    );
    expect(reachable.filter((line) => !line.startsWith('gateway:8080'))).toEqual([]);
    expect(pods.flatMap((pod) => pod.ports.filter(({ name }) => isPublic(pod.name, name)).map(({ port }) => admits(policies, pod.labels, port, outsider)))).toEqual([true]);
  });

  it('lets Prometheus scrape each pod on its metrics port', () => {
    expect(pods.map((pod) => [pod.name, admits(policies, pod.labels, pod.metricsPort, prometheus)])).toEqual(pods.map((pod) => [pod.name, true]));
  });

  it('lets the gateway, and no other Keyplane pod, call the demo API', () => {
    const demo = pods.find((pod) => pod.name === 'demo-api')!;
    expect(apps.filter((name) => admits(policies, demo.labels, demo.ports[0].port, podPeer(name)))).toEqual(['gateway']);
  });
});

/** What each Deployment must be told (DESIGN §9, the READMEs): a value, or where it comes from. */
const required: Record<string, Record<string, string>> = {
  gateway: { PORT: '8080', METRICS_PORT: '9080', NATS_URL: 'secret keyplane-nats/gateway-url', UPSTREAM_URL: 'configMap keyplane-gateway/upstream-url' },
  keys: { HTTP_PORT: '9081', NATS_URL: 'secret keyplane-nats/keys-url', DATABASE_URL: 'secret keyplane-postgres/url', BOOTSTRAP_ADMIN_KEY: 'optional secret keyplane-bootstrap/admin-key' },
  auth: { HTTP_PORT: '9082', NATS_URL: 'secret keyplane-nats/auth-url', DATABASE_URL: 'secret keyplane-postgres/url' },
  metering: {
    HTTP_PORT: '9083',
    NATS_URL: 'secret keyplane-nats/metering-url',
    DATABASE_URL: 'secret keyplane-postgres/url',
    ALERT_WEBHOOK_URL: 'optional secret keyplane-alert-webhook/url',
    ALERT_WEBHOOK_SECRET: 'optional secret keyplane-alert-webhook/secret',
  },
  'demo-api': { PORT: '8090' },
};

function describeEnv(entry: Manifest): string {
  if (entry.value !== undefined) return String(entry.value);
  const secret = entry.valueFrom?.secretKeyRef;
  if (secret) return `${secret.optional ? 'optional ' : ''}secret ${secret.name}/${secret.key}`;
  const configMap = entry.valueFrom?.configMapKeyRef;
  return `${configMap.optional ? 'optional ' : ''}configMap ${configMap.name}/${configMap.key}`;
}

describe('what each service is told', () => {
  const base = render('infra/k8s/base');

  // That a Deployment sets only variables its service reads, and its probe ports: apps/e2e/test/operations.test.ts.
  it.each(apps)('%s: its Deployment sets what DESIGN §9 and its README ask for', (app) => {
    const env = envOf(deploymentOf(base, app));
    expect(Object.fromEntries(Object.keys(required[app]).map((name) => [name, env[name] && describeEnv(env[name])]))).toEqual(required[app]);
  });

  it('gives every Secret and ConfigMap a Deployment reads a generator in the overlay, or its exact name and key in docs/operations.md', () => {
    // Each `kubectl create secret` command of the docs on one line, its continuations joined.
    const commands = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8').replace(/\\\n/g, ' ').split('\n');
    const documented = (name: string, key: string) => commands.some((line) => line.includes(`create secret generic ${name} `) && line.includes(`--from-literal=${key}=`));
    for (const overlay of ['infra/k8s/overlays/dev', 'infra/k8s/overlays/production']) {
      const [kustomization] = readYamlDocuments(`${overlay}/kustomization.yaml`);
      const generated = [...(kustomization.configMapGenerator ?? []), ...(kustomization.secretGenerator ?? [])].flatMap((generator: Manifest) =>
        (generator.literals ?? []).map((literal: string) => `${generator.name}/${literal.split('=')[0]}`),
      );
      const unexplained = ofKind(base, 'Deployment')
        .flatMap((deployment) => containerOf(deployment).env)
        .map((entry: Manifest) => entry.valueFrom?.secretKeyRef ?? entry.valueFrom?.configMapKeyRef)
        .filter(Boolean)
        .filter(({ name, key }: Manifest) => !generated.includes(`${name}/${key}`) && !documented(name, key));
      expect({ overlay, unexplained }).toEqual({ overlay, unexplained: [] });
    }
  });
});

/** Every `node:fs` function the services' code imports (what ships in the image: not tests, benches or libs/testing). */
function fsFunctionsImported(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'bench' && entry.name !== 'test') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const source = readFileSync(join(repoRoot, path), 'utf8');
        for (const m of source.matchAll(/import\s*(\*\s*as\s+\w+|\{([^}]*)\})\s*from\s*'(?:node:)?fs(?:\/promises)?'/g)) {
          for (const name of m[2] ? m[2].split(',').map((s) => s.trim().split(/\s+as\s+/)[0]).filter(Boolean) : ['*']) {
            used.set(name, [...(used.get(name) ?? []), path]);
          }
        }
      }
    }
  };
  for (const app of apps) walk(`apps/${app}/src`);
  for (const lib of readdirSync(join(repoRoot, 'libs')).filter((lib) => lib !== 'testing')) walk(`libs/${lib}/src`);
  return used;
}

describe('the image', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const entrypoint: string[] = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(runtimeStage)![1]);

  it('runs node under an init that passes on SIGTERM, so a pod stopped while it starts stops at once', () => {
    // Node as PID 1 ignores SIGTERM until the service has installed its handler, at the end of start-up.
    expect(entrypoint.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'node']);
    expect(runtimeStage).toMatch(/apt-get install [^\n]*\btini\b/);
  });

  it('runs as the user the manifests name (node, uid 1000) and holds nothing the services must write to', () => {
    expect(runtimeStage).toMatch(/^USER node$/m);
    const writers = [...fsFunctionsImported()].filter(([name]) => !['readFileSync', 'existsSync', 'readFile'].includes(name));
    expect(writers).toEqual([]);
  });
});

describe('docker-compose.yml: a stack that starts in order', () => {
  const [compose] = readYamlDocuments('docker-compose.yml');

  it('calls Postgres healthy only once it takes TCP connections, as the services make them', () => {
    // The image's first start runs initdb and init.sql on a server listening on its Unix socket only.
    const test: string[] = compose.services.postgres.healthcheck.test;
    expect(test.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
    expect(test[test.indexOf('-h') + 1]).toBe('127.0.0.1');
  });

  it('starts every service that uses Postgres after it is healthy', () => {
    for (const app of ['keys', 'auth', 'metering']) expect(compose.services[app].depends_on.postgres).toEqual({ condition: 'service_healthy' });
  });
});

describe('infra/nats/nats.conf on a real nats-server', () => {
  const { streams, subjects } = namespace('');
  const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
  const password = 'metering1';
  let store: string;
  let server: ChildProcess;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), 'keyplane-infra-nats-'));
    const config = join(store, 'nats.conf');
    const shipped = await readFile(join(repoRoot, 'infra/nats/nats.conf'), 'utf8');
    await writeFile(config, shipped.replace(/^(\s*)store_dir:.*$/m, `$1store_dir: ${JSON.stringify(join(store, 'jetstream'))}`));
    const env = { ...process.env, KEYS_NATS_PASSWORD: 'k1', AUTH_NATS_PASSWORD: 'a1', METERING_NATS_PASSWORD: password, GATEWAY_NATS_PASSWORD: 'g1' };
    // -1: ports of the server's choosing, read back from its log.
    server = spawn(NATS_SERVER, ['-c', config, '-a', '127.0.0.1', '-p', '-1', '-m', '-1'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise<string>((resolve, reject) => {
      let output = '';
      server.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(output);
        if (listening && output.includes('Server is ready')) resolve(listening[1]);
      });
      server.once('exit', (code) => reject(new Error(`nats-server exited ${code}: ${output}`)));
    });
    // As metering connects (natsServerOptions): its replies arrive on its own inbox, the only one it may read.
    nc = await connect({ servers: `127.0.0.1:${port}`, user: 'metering', pass: password, inboxPrefix: '_INBOX.metering' });
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server?.kill('SIGTERM');
    if (server?.exitCode === null) await exited;
    await rm(store, { recursive: true, force: true });
  });

  it("lets metering bring the ALERTS stream of an earlier version (a two-minute duplicate window) to the day-long window it now owns", async () => {
    // Until the window became a day, metering made ALERTS with JetStream's default; at start-up
    // it now updates the stream (ensureStream with ownsLimits) and stops if it may not.
    const jsm = await jetstreamManager(nc!);
    await jsm.streams.add({ name: streams.alerts, subjects: [subjects.alerts.all] });
    const updated = await jsm.streams.update(streams.alerts, { duplicate_window: 86_400 * 1e9 });
    expect(updated.config.duplicate_window).toBe(86_400 * 1e9);
  });
});
