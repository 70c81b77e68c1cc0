import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that could ever carry a secret. Keys are never logged on purpose; this is the
 * second line of defence if a request object or header map slips into a log call.
 */
const redact = ['key', '*.key', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'secret', '*.secret'];

export function createLogger(service: string, options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    { name: service, level: options.level ?? process.env.LOG_LEVEL ?? 'info', redact: { paths: redact, censor: '[redacted]' } },
    options.destination,
  );
}
