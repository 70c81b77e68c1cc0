import { runLoad, type LoadOptions } from './load.js';

export interface PairedRatios {
  /** Per round, each scenario's req/s over the ceiling's in that round. */
  rounds: Record<string, number>[];
}

/**
 * The machine's speed drifts within a run (other tenants of the host), and scenarios run one
 * after the other, so a ratio of two long runs partly measures the drift. Short rounds that
 * alternate the scenarios and the ceiling give ratios whose spread shows how far to trust them.
 */
export async function pairedRatios(rounds: number, ceiling: LoadOptions, scenarios: LoadOptions[]): Promise<PairedRatios> {
  const perRound: Record<string, number>[] = [];
  for (let round = 0; round < rounds; round++) {
    const ratios: Record<string, number> = {};
    const results = [];
    for (const scenario of scenarios) results.push(await runLoad(scenario));
    const bound = await runLoad(ceiling);
    for (const result of results) ratios[result.name] = result.requestsPerSecond / bound.requestsPerSecond;
    perRound.push(ratios);
  }
  return { rounds: perRound };
}
