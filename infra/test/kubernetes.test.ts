import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kustomize, readYamlDocuments, repoRoot, sourceOf } from './read.js';

const base = kustomize('infra/k8s/base');
const deployments = base.filter(({ doc }) => doc.kind === 'Deployment').map(({ doc }) => doc);
const services = ['keys', 'auth', 'metering', 'gateway', 'demo-api'];

describe('kubernetes base', () => {
  it('has a Deployment and a Service for every app', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...services].sort());
    const svcNames = base.filter(({ doc }) => doc.kind === 'Service').map(({ doc }) => doc.metadata.name);
    expect(svcNames.sort()).toEqual([...services].sort());
  });

  it.each(services)('%s: separate liveness and readiness probes, no unavailable pod on rollout, a real entry point', (name) => {
    const deployment = deployments.find((d) => d.metadata.name === name)!;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.startupProbe.httpGet.path).toBe('/healthz');
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(existsSync(sourceOf(container.args[0]))).toBe(true);
    expect(deployment.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': name });
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(name);
  });

  it('holds no environment values: no namespace, no resources, no image tag', () => {
    for (const { doc } of base) {
      expect(doc.metadata.namespace).toBeUndefined();
      for (const container of doc.spec?.template?.spec?.containers ?? []) {
        expect(container.resources).toBeUndefined();
        expect(container.image).toBe('keyplane');
      }
    }
  });

  it('keeps each HPA beside its Deployment, with a PDB', () => {
    for (const { doc, path } of base.filter(({ doc }) => doc.kind === 'HorizontalPodAutoscaler')) {
      expect(doc.spec.scaleTargetRef.name).toBe(doc.metadata.name);
      expect(path.split('/').at(-2)).toBe(doc.metadata.name);
      expect(base.some(({ doc: other }) => other.kind === 'PodDisruptionBudget' && other.metadata.name === doc.metadata.name)).toBe(true);
    }
  });
});

describe.each(['dev', 'production'])('kubernetes overlay %s', (overlay) => {
  const dir = `infra/k8s/overlays/${overlay}`;
  const [kustomization] = readYamlDocuments(`${dir}/kustomization.yaml`);

  it('sets a namespace and an image tag', () => {
    expect(kustomization.namespace).toMatch(/^keyplane/);
    expect(kustomization.images[0]).toMatchObject({ name: 'keyplane', newTag: expect.any(String) });
  });

  it('refers only to files that exist and patches only Deployments the base has', () => {
    for (const entry of [...kustomization.resources, ...(kustomization.patches ?? []).map((p: { path: string }) => p.path)]) {
      expect(existsSync(join(repoRoot, dir, entry))).toBe(true);
    }
    for (const patch of kustomization.patches ?? []) {
      for (const doc of readYamlDocuments(`${dir}/${patch.path}`)) {
        expect(services).toContain(doc.metadata.name);
      }
    }
  });

  it('provides the config and secrets the Deployments reference, or documents them', () => {
    const generated = [...(kustomization.configMapGenerator ?? []), ...(kustomization.secretGenerator ?? [])].map((g) => g.name);
    expect(generated).toContain('keyplane-gateway');
    if (overlay === 'dev') expect(generated).toEqual(expect.arrayContaining(['keyplane-nats', 'keyplane-postgres']));
  });
});

describe('kubernetes production overlay', () => {
  const dir = 'infra/k8s/overlays/production';
  const replicas = readYamlDocuments(`${dir}/replicas.yaml`);
  const resources = readYamlDocuments(`${dir}/resources.yaml`);
  const all = kustomize(dir);

  it('sets requests and limits for every Deployment', () => {
    expect(resources.map((d) => d.metadata.name).sort()).toEqual([...services].sort());
    for (const doc of resources) {
      const { requests, limits } = doc.spec.template.spec.containers[0].resources;
      expect(requests.cpu && requests.memory && limits.cpu && limits.memory).toBeTruthy();
    }
  });

  it('has a PodDisruptionBudget for every Deployment with more than one replica', () => {
    const pdbs = all.filter(({ doc }) => doc.kind === 'PodDisruptionBudget').map(({ doc }) => doc.metadata.name);
    for (const doc of replicas.filter((d) => d.spec.replicas > 1)) {
      expect(pdbs).toContain(doc.metadata.name);
    }
  });
});
