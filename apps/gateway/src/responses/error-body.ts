import { STATUS_CODES } from 'node:http';

// DESIGN §6 fixes some titles that differ from the HTTP reason phrase (429).
const TITLES: Record<number, string> = { 429: 'Rate limit exceeded' };

export const errorTitle = (status: number): string => TITLES[status] ?? STATUS_CODES[status] ?? 'Error';

/** Every error the gateway sends: `{"error": "...", "details": "..."}`, served as `application/json`. */
export function errorBody(status: number, details: string, title = errorTitle(status)): string {
  return JSON.stringify({ error: title, details });
}

export const INVALID_KEY = 'Invalid or missing API key';
export const REVOKED_KEY = 'API key has been revoked';
export const EXPIRED_KEY = 'API key has expired';
export const AUTH_UNAVAILABLE = 'Authorization service unavailable';
export const KEYS_UNAVAILABLE = 'Keys service unavailable';
export const METERING_UNAVAILABLE = 'Metering service unavailable';
export const UPSTREAM_UNAVAILABLE = 'Upstream unavailable';
