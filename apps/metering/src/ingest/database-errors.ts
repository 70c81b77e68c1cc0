/**
 * Postgres refused the data itself (SQLSTATE class 22 data exception, 23 integrity
 * violation, 54 program limit): retrying the same message can never succeed. Anything else
 * (connection lost, deadlock, server shutting down, a driver error) may pass on a retry.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}
