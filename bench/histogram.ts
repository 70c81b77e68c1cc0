/** A quantile of a Prometheus histogram, read from the /metrics text: the upper bound of the bucket it falls in. */
export function histogramQuantile(metricsText: string, metric: string, quantile: number): number | null {
  const buckets = [...metricsText.matchAll(new RegExp(`^${metric}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+(?:\\.\\d+)?)`, 'gm'))]
    .map((m) => ({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  return buckets.find((bucket) => bucket.count >= total * quantile)?.le ?? null;
}
