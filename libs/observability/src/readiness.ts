export type ReadinessCheck = () => boolean | Promise<boolean>;

/** The checks `/readyz` runs; each part of a service registers what "ready" means for it. */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const entries = await Promise.all(
      // A check that throws, synchronously or not, means "not ready", never a failed probe.
      [...this.checks].map(async ([name, check]) => [name, await Promise.resolve().then(check).catch(() => false)] as const),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, ok]) => ok), checks };
  }
}
