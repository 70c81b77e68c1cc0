import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kustomize, readYamlDocuments, repoRoot, type Manifest } from './read.js';

// The optional kustomize component that mounts the NATS TLS files (docs/operations.md, TLS to
// NATS), applied here to the base Deployments as kustomize applies a JSON patch.
const dir = 'infra/k8s/components/nats-tls';
const [component] = readYamlDocuments(`${dir}/kustomization.yaml`);
const [{ path: patchPath, target }] = component.patches as { path: string; target: { kind: string; name: string } }[];
const operations = readYamlDocuments(`${dir}/${patchPath}`)[0] as { op: string; path: string; value: unknown }[];
const deployments = kustomize('infra/k8s/base')
  .map(({ doc }) => doc)
  .filter((doc) => doc.kind === 'Deployment');
const targeted = deployments.filter((doc) => doc.kind === target.kind && new RegExp(target.name).test(doc.metadata.name));

const pointer = (path: string) => path.split('/').slice(1);

/** JSON Patch `add` (RFC 6902 §4.1): the parent must exist; a member already there is replaced, `-` appends. */
function add(doc: Manifest, path: string, value: unknown): void {
  const tokens = pointer(path);
  const last = tokens.pop()!;
  let parent: Manifest = doc;
  for (const token of tokens) {
    if (parent[token] === undefined) throw new Error(`${path}: ${token} does not exist`);
    parent = parent[token];
  }
  if (Array.isArray(parent) && last === '-') parent.push(structuredClone(value));
  else parent[last] = structuredClone(value);
}

function patched(deployment: Manifest): Manifest {
  const doc = structuredClone(deployment);
  for (const { op, path, value } of operations) {
    expect(op).toBe('add');
    add(doc, path, value);
  }
  return doc;
}

const connectsToNats = (doc: Manifest) => doc.spec.template.spec.containers[0].env.some((variable: { name: string }) => variable.name === 'NATS_URL');

describe('kustomize component nats-tls', () => {
  it('patches exactly the Deployments that connect to NATS', () => {
    expect(targeted.map((doc) => doc.metadata.name).sort()).toEqual(deployments.filter(connectsToNats).map((doc) => doc.metadata.name).sort());
    expect(targeted.length).toBe(4);
  });

  // An `add` at a list that exists replaces it: the component may only create these lists, or
  // it would take away a volume the base mounts (its kustomization.yaml says how overlays add theirs).
  it.each(targeted.map((doc) => [doc.metadata.name, doc]))('%s: creates its volume lists rather than replacing lists the base has', (_name, deployment) => {
    for (const { path } of operations.filter(({ path }) => !path.endsWith('/-'))) {
      let node: Manifest | undefined = deployment;
      for (const token of pointer(path)) node = node?.[token];
      expect({ path, before: node }).toEqual({ path, before: undefined });
    }
  });

  it.each(targeted.map((doc) => [doc.metadata.name, doc]))('%s: mounts the Secret read-only and points the three variables at its files', (_name, deployment) => {
    const spec = patched(deployment).spec.template.spec;
    const container = spec.containers[0];
    expect(spec.volumes).toEqual([{ name: 'nats-tls', secret: { secretName: 'keyplane-nats-tls', defaultMode: 0o444 } }]);
    expect(container.volumeMounts).toEqual([{ name: 'nats-tls', mountPath: '/etc/keyplane/nats-tls', readOnly: true }]);
    const tlsVariables = container.env.filter((variable: { name: string }) => variable.name.startsWith('NATS_TLS_'));
    expect(tlsVariables).toEqual([
      { name: 'NATS_TLS_CA_FILE', value: '/etc/keyplane/nats-tls/ca.crt' },
      { name: 'NATS_TLS_CERT_FILE', value: '/etc/keyplane/nats-tls/tls.crt' },
      { name: 'NATS_TLS_KEY_FILE', value: '/etc/keyplane/nats-tls/tls.key' },
    ]);
    // The rest of the container is as the base has it.
    expect(container.env.slice(0, -3)).toEqual(deployment.spec.template.spec.containers[0].env);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('sets the variables the services read, and the Secret keys the documentation names', () => {
    const settings = readFileSync(join(repoRoot, 'libs/nats/src/tls.ts'), 'utf8');
    const operationsDoc = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
    for (const name of ['NATS_TLS_CA_FILE', 'NATS_TLS_CERT_FILE', 'NATS_TLS_KEY_FILE']) expect(settings).toContain(`'${name}'`);
    expect(operationsDoc).toContain('Secret `keyplane-nats-tls` with the keys `ca.crt`, `tls.crt` and `tls.key`');
  });
});
