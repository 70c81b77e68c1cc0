// Reading what the benchmark needs from a service's Prometheus /metrics text.

/** Cumulative bucket counts of a Prometheus histogram. */
export type Buckets = { le: number; count: number }[];

export function histogramBuckets(metricsText: string, metric: string): Buckets {
  return [...metricsText.matchAll(new RegExp(`^${metric}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+(?:\\.\\d+)?)`, 'gm'))]
    .map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) }))
    .sort((a, b) => a.le - b.le);
}

/** The observations made between two scrapes of the same histogram. */
export function bucketsBetween(before: Buckets, after: Buckets): Buckets {
  return after.map((bucket) => ({ le: bucket.le, count: bucket.count - (before.find((b) => b.le === bucket.le)?.count ?? 0) }));
}

/** A quantile: the upper bound of the bucket it falls in, or null without observations. */
export function quantile(buckets: Buckets, q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  return buckets.find((bucket) => bucket.count >= total * q)?.le ?? null;
}

/** The sum of every series of a counter (all label values). */
export function counterTotal(metricsText: string, metric: string): number {
  return [...metricsText.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}
