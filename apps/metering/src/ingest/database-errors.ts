/**
 * Postgres refused the data itself (SQLSTATE class 22 data exception, 23 integrity
 * violation, 54 program limit): retrying the same message can never succeed. Anything else
 * (connection lost, deadlock, server shutting down, a driver error) may pass on a retry.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/** What node-postgres throws, with no code, once the connection under a query is gone. */
const CONNECTION_LOST = /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

/**
 * Postgres, or the way to it, failed the batch: Postgres said why (a SQLSTATE), the socket did
 * (a system error), or the driver lost its connection. Anything else was thrown by metering's
 * own code on what the events hold, and will be thrown again for the same events.
 */
export function isDatabaseFailure(error: unknown): boolean {
  const { code, syscall, message } = (error ?? {}) as { code?: unknown; syscall?: unknown; message?: unknown };
  if (typeof syscall === 'string') return true;
  if (typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || /^E[A-Z]+$/.test(code))) return true;
  return typeof message === 'string' && CONNECTION_LOST.test(message);
}
