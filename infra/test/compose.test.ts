import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readYamlDocuments, repoRoot, sourceOf, type Manifest } from './read.js';

const [compose] = readYamlDocuments('docker-compose.yml');
const apps = ['keys', 'auth', 'metering', 'demo-api', 'gateway'];

describe('docker-compose.yml', () => {
  it('runs the whole stack with its own Postgres and NATS (JetStream)', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...apps, 'nats', 'postgres'].sort());
    expect(compose.services.nats.image).toBe('nats:2.9');
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
  });

  it.each(apps)('%s starts from a real entry point', (name) => {
    const command: string[] = compose.services[name].command;
    expect(existsSync(sourceOf(command[0]))).toBe(true);
  });

  it('connects each service to NATS as its own user', () => {
    for (const name of ['keys', 'auth', 'metering', 'gateway']) {
      expect(compose.services[name].environment.NATS_URL).toMatch(new RegExp(`^nats://${name}:[^@]+@nats:4222$`));
    }
  });

  it('points the gateway at the demo API and publishes only its port', () => {
    expect(compose.services.gateway.environment.UPSTREAM_URL).toBe('http://demo-api:8090');
    expect(compose.services.gateway.ports).toEqual(['8080:8080']);
    for (const name of apps.filter((n) => n !== 'gateway')) expect(compose.services[name].ports).toBeUndefined();
  });

  it('mounts files that exist', () => {
    for (const service of Object.values<Manifest>(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(':')[0];
        if (source.startsWith('./')) expect(existsSync(join(repoRoot, source))).toBe(true);
      }
    }
  });
});
