import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { generateKey } from '@keyplane/key-format';
import { waitFor } from '@keyplane/testing';
import { Registry } from 'prom-client';
import { labelsServed, scrape, type Family } from './metric-families.js';
import { startStack, type Stack } from './stack.js';

// docs/operations.md "Metrics reference" against what each service serves: every metric in its
// tables exported with that type, labels and start (from start-up or from its first event), and
// every metric a service exports in its table, so a metric added without documenting it fails here.
// observability-contract.test.ts checks naming conventions and label cardinality; not repeated here.

const SERVICES = ['gateway', 'keys', 'auth', 'metering'] as const;
type Service = (typeof SERVICES)[number];

/** prom-client's default metrics, named in the reference as one line by their prefixes. */
const DEFAULT_METRIC = /^(process|nodejs)_/;

interface Documented {
  name: string;
  type: string;
  labels: string[];
  exported: 'start-up' | 'first event';
}

const reference = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8').split(/^## /m).find((section) => section.startsWith('Metrics reference\n'));

/** One row per metric of each service's table: `| \`name\` | type | \`label\`: values; ... | meaning | exported |`. */
function documentedMetrics(): Record<Service, Documented[]> {
  if (!reference) throw new Error('docs/operations.md has no "## Metrics reference" section');
  const tables = {} as Record<Service, Documented[]>;
  for (const subsection of reference.split(/^### /m).slice(1)) {
    const service = subsection.slice(0, subsection.indexOf('\n')).trim() as Service;
    if (!SERVICES.includes(service)) continue;
    tables[service] = subsection
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => {
        const [name, type, labels, , exported] = line.slice(1, -1).split(' | ').map((cell) => cell.trim());
        return {
          name: name.replace(/`/g, ''),
          type,
          labels: [...labels.matchAll(/(?:^|; )`([a-z_]+)`:/g)].map((match) => match[1]).sort(),
          exported: exported.startsWith('start-up') ? 'start-up' : exported.startsWith('first event') ? 'first event' : (exported as Documented['exported']),
        };
      });
  }
  return tables;
}

let stack: Stack;
let urls: Record<Service, string>;
const documented = documentedMetrics();
/** Each service's /metrics as the stack started, before any request. */
const atStart = {} as Record<Service, Map<string, Family>>;
/** And after a valid request, two 401s, management calls and a usage event stored. */
const afterTraffic = {} as Record<Service, Map<string, Family>>;

beforeAll(async () => {
  stack = await startStack('metrics_reference', { metering: {}, authReplicas: 1 });
  urls = { gateway: stack.gateway.metricsUrl, keys: stack.keys.url, auth: stack.auth[0].url, metering: stack.metering()!.url };
  for (const service of SERVICES) atStart[service] = await scrape(urls[service]);

  const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 100 } });
  expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
  expect((await stack.call('GET', '/v1/flows', { key: null })).status).toBe(401);
  expect((await stack.call('GET', '/v1/flows', { key: generateKey({ environment: 'live' }).key })).status).toBe(401);
  expect((await stack.call('GET', `/v1/api-keys/${id}`)).status).toBe(200);
  await waitFor(
    'the usage event stored by metering',
    async () => ((await stack.call('GET', `/v1/api-keys/${id}/events`)).body.data?.length ?? 0) > 0,
    20_000,
    200,
  );
  for (const service of SERVICES) afterTraffic[service] = await scrape(urls[service]);
}, 120_000);

afterAll(async () => {
  await stack?.close();
}, 60_000);

/**
 * The label names a service defined for a metric that no traffic here counts (auth's key view
 * refollowing its stream), read from the registry its /metrics serves. prom-client keeps them on
 * the metric, outside its typings; the gateway's registry is not reachable, so all of its
 * labelled metrics must be counted by the traffic above.
 */
function labelsDefined(service: Service, name: string): string[] | undefined {
  const app: INestApplication | undefined = { gateway: undefined, keys: stack.keys.app, auth: stack.auth[0].app, metering: stack.metering()!.app }[service];
  const metric = app?.get(Registry, { strict: false }).getSingleMetric(name) as { labelNames?: readonly string[] } | undefined;
  return metric?.labelNames ? [...metric.labelNames].sort() : undefined;
}

it('has a table for each service, and names the default metrics by their prefixes', () => {
  expect(Object.keys(documented).sort()).toEqual([...SERVICES].sort());
  for (const service of SERVICES) expect({ service, rows: documented[service].length > 0 }).toEqual({ service, rows: true });
  expect(reference).toMatch(/`process_` and `nodejs_`/);
});

describe.each(SERVICES)('%s', (service) => {
  it('exports every metric of its table with the documented type', () => {
    const served = documented[service].map(({ name }) => ({ name, type: afterTraffic[service].get(name)?.type }));
    expect(served).toEqual(documented[service].map(({ name, type }) => ({ name, type })));
  });

  it('exports no metric its table leaves out, other than the default process_ and nodejs_ ones', () => {
    const inTable = new Set(documented[service].map(({ name }) => name));
    const undocumented = [...afterTraffic[service].keys()].filter((name) => !DEFAULT_METRIC.test(name) && !inTable.has(name));
    expect(undocumented).toEqual([]);
  });

  it('serves each metric with exactly the label names its table gives', () => {
    const served = documented[service].map(({ name }) => {
      const family = afterTraffic[service].get(name);
      return { name, labels: family && family.samples.length > 0 ? labelsServed(family) : labelsDefined(service, name) };
    });
    expect(served).toEqual(documented[service].map(({ name, labels }) => ({ name, labels })));
  });

  it('has a series of each metric documented as exported from start-up before any request, and none of the others', () => {
    const started = documented[service].map(({ name }) => ({ name, exported: (atStart[service].get(name)?.samples.length ?? 0) > 0 ? 'start-up' : 'first event' }));
    expect(started).toEqual(documented[service].map(({ name, exported }) => ({ name, exported })));
  });
});

it('the demo API exports only the default metrics', async () => {
  const served = [...(await scrape(stack.demo.url)).keys()];
  expect(served.length).toBeGreaterThan(0);
  expect(served.filter((name) => !DEFAULT_METRIC.test(name))).toEqual([]);
});
