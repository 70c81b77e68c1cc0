/** The sum of a service's `/metrics` samples whose line starts with `prefix` (and passes `filter`). */
export async function metricTotal(url: string, prefix: string, filter: (line: string) => boolean = () => true): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(prefix) && filter(line)) total += Number(line.split(' ').at(-1));
  return total;
}
