/** A pino destination that keeps every line, so tests can search the logs for a secret. */
export { LogLines as CapturedLogs } from '@keyplane/observability';
