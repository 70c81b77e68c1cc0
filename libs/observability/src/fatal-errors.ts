import type { Logger } from 'pino';

/** What `exitOnFatalErrors` needs of the process: where the two events come from, and how to exit. */
export interface FatalErrorSource {
  on(event: 'uncaughtException' | 'unhandledRejection', listener: (error: unknown) => void): unknown;
  exit(code: number): unknown;
}

/**
 * An uncaught exception or unhandled rejection ends the process, as Node's default does, but
 * as one `fatal` JSON line on stdout instead of a multi-line stack trace on stderr that a log
 * pipeline reading JSON lines splits or drops. Logged even at `LOG_LEVEL=silent`, as a failed
 * start-up is. The exit code is 1, so the orchestrator sees a crash and restarts the process.
 */
export function exitOnFatalErrors(logger: Logger, source: FatalErrorSource = process): void {
  const fatal = (kind: string) => (error: unknown) => {
    if (!logger.isLevelEnabled('fatal')) logger.level = 'fatal';
    logger.fatal({ err: error, kind }, `${kind}: ${error instanceof Error ? error.message : String(error)}`);
    source.exit(1);
  };
  source.on('uncaughtException', fatal('uncaught exception'));
  source.on('unhandledRejection', fatal('unhandled rejection'));
}
