export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  type?: string;
  help?: string;
  samples: Sample[];
}

/** The families of a Prometheus text exposition, samples grouped under their family's name. */
export function families(text: string): Map<string, Family> {
  const found = new Map<string, Family>();
  const family = (name: string) => found.get(name) ?? found.set(name, { samples: [] }).get(name)!;
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      family(meta[2])[meta[1] === 'HELP' ? 'help' : 'type'] = meta[3];
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    family(familyOf(found, sample[1])).samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return found;
}

/** A histogram's or summary's `_bucket`, `_sum` and `_count` samples belong to its family. */
function familyOf(found: Map<string, Family>, sample: string): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sample.slice(0, -suffix.length);
    if (sample.endsWith(suffix) && ['histogram', 'summary'].includes(found.get(base)?.type ?? '')) return base;
  }
  return sample;
}

/** A service's `/metrics`, which must answer 200. */
export async function scrape(url: string): Promise<Map<string, Family>> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  return families(await response.text());
}

/** The label names a family's samples carry, without the registry's `service` and a histogram's `le`. */
export const labelsServed = (family: Family): string[] =>
  [...new Set(family.samples.flatMap((sample) => Object.keys(sample.labels)))].filter((label) => label !== 'service' && label !== 'le').sort();
