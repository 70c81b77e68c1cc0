import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that could ever carry a secret. Keys are never logged on purpose; this is the
 * second line of defence if a request object or header map slips into a log call.
 */
const redact = ['key', '*.key', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'secret', '*.secret'];

/**
 * A service's logger, at `LOG_LEVEL` unless told otherwise. An unknown level gives `info`
 * rather than a throw: the logger is made before the config is read, and the config's check
 * is what stops start-up, naming the variable in a JSON line this logger can then write.
 */
export function createLogger(service: string, options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino({ name: service, level: isLevel(level) ? level : 'info', redact: { paths: redact, censor: '[redacted]' } }, options.destination);
}

const isLevel = (level: string) => level === 'silent' || level in pino.levels.values;
