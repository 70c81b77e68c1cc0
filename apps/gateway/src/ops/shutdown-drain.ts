import type { Logger, Readiness } from '@keyplane/observability';
import type { GracefulListener } from './graceful-listener.js';

export interface ShutdownDrainOptions {
  readiness: Readiness;
  listener: GracefulListener;
  delayMs: number;
  logger: Logger;
  /** What closes once the listener has: the internal port, NATS, the rest of the app. */
  closeRest: () => Promise<void>;
}

/** The check `/readyz` reports, false, from the start of a shutdown. */
export const SHUTDOWN_CHECK = 'not-shutting-down';

/**
 * Kubernetes sends SIGTERM while the pod is still being taken out of its Service's endpoints
 * and the ingress's upstreams, so new connections keep arriving for a few seconds. The gateway
 * turns unready at once (so every prober sees it), serves everything as usual for `delayMs`,
 * then closes its listener (answers in flight delivered whole) and only then NATS, which the
 * requests in flight still need. Called twice, it closes once.
 */
export function shutdownDrain({ readiness, listener, delayMs, logger, closeRest }: ShutdownDrainOptions): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const run = async () => {
    const started = Date.now();
    readiness.add(SHUTDOWN_CHECK, () => false);
    logger.info({ delayMs }, 'draining: unready, still serving until the delay is over');
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const listenerStarted = Date.now();
    await listener.close();
    const listenerCloseMs = Date.now() - listenerStarted;
    await closeRest();
    logger.info({ delayMs, listenerCloseMs, totalMs: Date.now() - started }, 'closed: every answer delivered');
  };
  return () => (closing ??= run());
}
