import type { Logger } from '@keyplane/observability';

/** Closes the service once on SIGTERM or SIGINT (Kubernetes stop, Ctrl-C), then exits. */
export function closeOnSignals(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Logs a start-up failure as one JSON line and exits non-zero. */
export function exitOnStartupFailure(logger: Logger) {
  return (error: unknown) => {
    // Even at LOG_LEVEL=silent: a process that exits 1 without a word leaves its operator nothing to go on.
    if (!logger.isLevelEnabled('fatal')) logger.level = 'fatal';
    logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
    process.exit(1);
  };
}
