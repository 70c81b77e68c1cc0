/** Exponential backoff: `baseMs` for the first attempt, doubling with each next one, never above `capMs`. */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(attempt - 1, 0), capMs);
}
